"""Outbound webhooks (Standard Webhooks): the outbox written with each event, the URL
rules against private networks, and the delivery the workers run."""
