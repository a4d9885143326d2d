"""The two durable queues, the webhook inbox and the HubSpot outbox: enqueue, claim with a
lease, finish, retry with backoff, dead letters."""
