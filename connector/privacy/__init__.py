"""Data protection: erasing what the connector holds about a contact when asked to forget it."""
