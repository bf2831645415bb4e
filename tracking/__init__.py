"""What recipients do with their email: opens (the tracking image) and followed links."""
