"""The mail pipeline, usable without a web request."""
