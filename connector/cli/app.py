"""`connector app render --public-url https://HOST [--out DIR]`: the HubSpot app project, ready
for `hs project upload`, its URLs and webhook subscriptions derived from this deployment."""

from __future__ import annotations

from pathlib import Path

import click

from connector.cli.app_project import TEMPLATE_DIR, render_project, subscribed_properties
from connector.cli.wiring import build_runtime
from connector.errors import UserError
from connector.program.deals import DEAL_MODE


@click.group()
def app() -> None:
    """The HubSpot developer-platform app (project) that installs the connector in a portal."""


@app.command()
@click.option("--public-url", required=True,
              help="Where HubSpot reaches this connector, e.g. https://advocate.example.com")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build/hubspot-app"), show_default=True,
              help="Folder to write the project to.")
def render(public_url: str, out_dir: Path) -> None:
    """Write the app project with the public URL filled in and the webhook subscriptions for
    every property the mapping and the program read."""
    if not TEMPLATE_DIR.is_dir():
        raise UserError(f"the app template {TEMPLATE_DIR.name}/ is missing: render from a "
                        "checkout of the connector's repository")
    runtime = build_runtime()
    program, mapping, schema = runtime.program, runtime.mapping, runtime.property_schema
    properties = subscribed_properties(mapping, program, schema)
    written = render_project(
        TEMPLATE_DIR, out_dir, public_url, contact_properties=properties,
        deal_mode=program.conversion_mode == DEAL_MODE,
        api_enrollment=program.enrollment_mode == "api")
    click.echo(f"app project written to {written}: {len(properties)} property subscriptions; "
               f"next: cd {written} && hs project upload")
