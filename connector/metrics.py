"""Prometheus metrics every part of the connector updates (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOK_EVENTS = Counter(
    "connector_webhook_events_total", "Webhook events by outcome", ["outcome"]
)  # outcome: received, stored, duplicate, rejected_signature, rejected_body, ...
# read from the database on each scrape; under gunicorn the latest scrape's value wins
INBOX_BACKLOG = Gauge("connector_inbox_backlog", "Inbox events waiting to be handled",
                      multiprocess_mode="mostrecent")
DEAD_EVENTS = Gauge("connector_dead_events", "Inbox events that ended dead",
                    multiprocess_mode="mostrecent")
OUTBOX_BACKLOG = Gauge("connector_outbox_backlog", "HubSpot writes and enrollments waiting",
                       multiprocess_mode="mostrecent")
LAST_SYNC_SUCCESS = Gauge("connector_last_sync_success_timestamp_seconds",
                          "When a sync pass last succeeded (Unix time)",
                          multiprocess_mode="mostrecent")
HUBSPOT_CALLS = Counter(
    "connector_hubspot_calls_total", "HubSpot API calls", ["endpoint", "status"]
)
HUBSPOT_RATE_LIMITED = Counter("connector_hubspot_429_total", "HubSpot 429 answers", ["policy"])
SYNC_DURATION = Histogram(
    "connector_sync_duration_seconds", "Sync pass durations", ["mode"],
    buckets=(1, 5, 15, 60, 300, 900, 3600),
)
PROPERTIES_WRITTEN = Counter(
    "connector_properties_written_total", "Contact property values written to HubSpot"
)
REWARDS_GRANTED = Counter("connector_rewards_granted_total", "Rewards granted", ["role"])
SHARE_LINK_REQUESTS = Counter(
    "connector_share_link_requests_total", "Share link requests by outcome", ["outcome"]
)  # outcome: counted, repeat, unknown, malformed, opted_out, removed, bot, head, unavailable
