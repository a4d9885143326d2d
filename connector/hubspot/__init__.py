"""The only code that talks HTTP to HubSpot: client, limiter, retries, batching, search, deals."""
