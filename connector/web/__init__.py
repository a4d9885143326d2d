"""The web process: the webhook receiver, the dashboard, health and metrics (a Flask app, never
a scheduler)."""
