"""Paying rewards through a gift-card provider: the provider's client, nothing about the ledger."""
