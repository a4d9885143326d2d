"""A local HubSpot: the endpoints, shapes, limits and webhooks the connector relies on."""
