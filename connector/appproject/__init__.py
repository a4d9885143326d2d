"""The HubSpot developer project of the connector (`hubspot-app/`), rendered for one deployment."""
