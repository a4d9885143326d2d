"""The audit trail: every write the connector made to a HubSpot contact, and why."""
