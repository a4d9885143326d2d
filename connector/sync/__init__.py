"""Keeping HubSpot in step: sync passes, re-scores, the write-back diff, deal conversions read
from HubSpot, and sending the outbox."""
