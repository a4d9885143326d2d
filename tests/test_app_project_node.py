"""The rendered HubSpot project read by HubSpot's own parser (`@hubspot/project-parsing-lib`).

Runs `hubspot-app/checks/check-project.mjs` with Node. Skipped when Node or the tooling's
node_modules are missing (`make test` installs them with `npm ci`); CI sets
CONNECTOR_REQUIRE_NODE=1, and then a missing Node fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from connector.cli.app_project import TEMPLATE_DIR, render_project, subscribed_properties
from connector.hubspot.schema import load_property_schema
from connector.program.config import load_program
from connector.scoring.mapping import load_mapping

ROOT = Path(__file__).resolve().parent.parent
CHECK = TEMPLATE_DIR / "checks" / "check-project.mjs"
PARSER = TEMPLATE_DIR / "node_modules" / "@hubspot" / "project-parsing-lib"
URL = "https://advocate.example.com"


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable, with the tooling installed."""
    executable = shutil.which("node")
    problem = None
    if executable is None:
        problem = "node is not on PATH"
    elif not PARSER.is_dir():
        problem = "hubspot-app/node_modules is missing (run `make hubspot-app-deps`)"
    if problem:
        if os.environ.get("CONNECTOR_REQUIRE_NODE") == "1":
            pytest.fail(f"Node checks are required (CONNECTOR_REQUIRE_NODE=1): {problem}")
        pytest.skip(f"Node checks skipped: {problem}")
    assert executable is not None
    return executable


@pytest.fixture(scope="module")
def properties() -> list[str]:
    return subscribed_properties(load_mapping(ROOT / "mappings" / "signals.yaml"),
                                 load_program(ROOT / "workflows" / "program.yaml"),
                                 load_property_schema(ROOT / "mappings" / "properties.yaml"))


def check(node: str, project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([node, str(CHECK), str(project), "--public-url", URL, *extra],
                          cwd=TEMPLATE_DIR, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize("deal_mode", [False, True], ids=["lifecycle", "deals"])
def test_hubspots_parser_reads_the_rendered_project(node: str, properties: list[str],
                                                    tmp_path: Path, deal_mode: bool) -> None:
    project = render_project(TEMPLATE_DIR, tmp_path / "project", URL,
                             contact_properties=properties, deal_mode=deal_mode)
    result = check(node, project, *(["--deal-mode"] if deal_mode else []))

    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.split(",")[1].strip().startswith("0 failed"), summary
    for component in ("APPLICATION advocate_connector", "WEBHOOKS advocate_connector_webhooks",
                      "CARD advocate_readiness_card", "WORKFLOW_ACTION advocate_check_readiness",
                      "WORKFLOW_ACTION advocate_invite_to_referral_program"):
        assert component in summary


def test_a_feature_file_in_the_wrong_place_fails_the_check(node: str, properties: list[str],
                                                           tmp_path: Path) -> None:
    project = render_project(TEMPLATE_DIR, tmp_path / "project", URL,
                             contact_properties=properties, deal_mode=False)
    cards = project / "src" / "app" / "cards"
    (cards / "nested").mkdir()
    (cards / "readiness-card-hsmeta.json").rename(cards / "nested" / "readiness-card-hsmeta.json")
    result = check(node, project)

    assert result.returncode == 1
    assert "FAIL no skipped *-hsmeta.json files (app/cards/nested/readiness-card-hsmeta.json)" \
        in result.stdout
    assert "FAIL 1 CARD component(s), found 0" in result.stdout


def test_the_check_holds_the_render_to_its_url_and_mode(node: str, properties: list[str],
                                                        tmp_path: Path) -> None:
    project = render_project(TEMPLATE_DIR, tmp_path / "project", "https://other.example.com",
                             contact_properties=properties, deal_mode=False)
    result = check(node, project, "--deal-mode")

    assert result.returncode == 1
    assert f"FAIL targetUrl is {URL}/webhooks/hubspot" in result.stdout
    assert "FAIL deal creation, dealstage change and deletion subscribed" in result.stdout
