"""`connector sandbox`: run a local HubSpot until Ctrl-C."""

from __future__ import annotations

import time

import click

from connector.sandbox.server import SandboxConfig, run_in_thread


@click.command()
@click.option("--port", default=8090, show_default=True, help="Port on 127.0.0.1 (0: any free).")
@click.option("--contacts", default=500, show_default=True, help="Contacts to seed.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated portal.")
@click.option("--access-token", default="sandbox-token", show_default=True,
              help="The bearer token the sandbox accepts.")
@click.option("--client-secret", default="sandbox-secret", show_default=True,
              help="The secret webhooks are signed with.")
@click.option("--webhook-url", default=None, help="Where to POST webhook batches (none: off).")
@click.option("--rate-limit-per-10s", default=100, show_default=True,
              help="Burst budget per rolling 10 seconds.")
@click.option("--search-rate-per-s", default=5.0, show_default=True,
              help="Search requests per second.")
@click.option("--search-lag-s", default=1.0, show_default=True,
              help="Seconds before an edit becomes visible to search.")
def sandbox(port: int, contacts: int, seed: int, access_token: str, client_secret: str,
            webhook_url: str | None, rate_limit_per_10s: int, search_rate_per_s: float,
            search_lag_s: float) -> None:
    """Run a local HubSpot emulator (contacts, properties, search, workflows, webhooks)."""
    config = SandboxConfig(
        port=port, contacts=contacts, seed=seed, access_token=access_token,
        client_secret=client_secret, webhook_url=webhook_url,
        rate_limit_per_10s=rate_limit_per_10s, search_rate_per_s=search_rate_per_s,
        search_lag_s=search_lag_s, log_requests=True)
    handle = run_in_thread(config)
    click.echo(f"sandbox HubSpot at {handle.url} ({contacts} contacts, seed {seed}); "
               "Ctrl-C to stop")
    click.echo(f"a landing page with a referral form: {handle.url}/_sandbox/landing")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        handle.stop()
