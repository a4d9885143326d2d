"""`connector install` against the sandbox: creates, converges, plans, refuses clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from connector.cli import cli
from connector.config import PROJECT_ROOT
from connector.hubspot.schema import load_property_schema
from connector.program.config import load_program
from connector.sandbox.server import SandboxConfig, SandboxHandle, run_in_thread

TOKEN = "sandbox-token"
SCHEMA = load_property_schema(PROJECT_ROOT / "mappings" / "properties.yaml")
PROGRAM_PATH = PROJECT_ROOT / "workflows" / "program.yaml"


@pytest.fixture
def portal() -> Iterator[SandboxHandle]:
    handle = run_in_thread(SandboxConfig(contacts=0, access_token=TOKEN))
    yield handle
    handle.stop()


@pytest.fixture
def env(portal: SandboxHandle, tmp_path: Path) -> dict[str, str]:
    return {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": portal.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'connector.db'}",
            "CONNECTOR_PROGRAM": str(PROGRAM_PATH)}


def _install(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["install", *args], env=env)


def _writes(portal: SandboxHandle) -> dict[str, int]:
    requests_by_route = portal.stats()["requests"]
    return {route: n for route, n in requests_by_route.items()
            if route.split()[0] in ("POST", "PATCH", "PUT", "DELETE")}


def test_fresh_install_creates_every_property_and_flow(portal: SandboxHandle,
                                                       env: dict[str, str]) -> None:
    result = _install(env)
    assert result.exit_code == 0, result.output
    assert "change(s) made" in result.output
    created = portal.portal.properties
    assert portal.portal.groups["advocacy"]["label"] == "Advocacy"
    for definition in SCHEMA.definitions.values():
        prop = created[definition.name]
        assert prop["type"] == definition.type, definition.name
        assert prop["fieldType"] == definition.field_type, definition.name
        assert prop["groupName"] == "advocacy"
        assert [o["value"] for o in prop.get("options") or []] == list(definition.options)
        assert bool(prop.get("hasUniqueValue")) == definition.has_unique_value, definition.name
    program = load_program(PROGRAM_PATH)
    # trigger properties: from mappings/properties.yaml, or made as text when absent there
    assert set(program.trigger_properties()) <= set(created)
    flows = requests.get(f"{portal.url}/automation/v4/flows", timeout=5,
                         headers={"Authorization": f"Bearer {TOKEN}"}).json()["results"]
    assert len(flows) == len(program.trigger_properties())


def test_second_run_changes_nothing(portal: SandboxHandle, env: dict[str, str]) -> None:
    assert _install(env).exit_code == 0
    requests.post(f"{portal.url}/_sandbox/reset", timeout=5)
    result = _install(env)
    assert result.exit_code == 0, result.output
    assert "Everything is up to date" in result.output
    assert _writes(portal) == {}


def test_dry_run_writes_nothing(portal: SandboxHandle, env: dict[str, str]) -> None:
    before = set(portal.portal.properties)
    result = _install(env, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "create" in result.output
    assert _writes(portal) == {}
    assert set(portal.portal.properties) == before


def test_a_property_of_another_type_is_a_conflict_left_alone(
    portal: SandboxHandle, env: dict[str, str],
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    requests.post(f"{portal.url}/crm/v3/properties/contacts", headers=headers, timeout=5, json={
        "name": "advocate_tier", "label": "Tier", "type": "string", "fieldType": "text",
        "groupName": "contactinformation"})
    result = _install(env)
    assert result.exit_code == 1
    assert "conflict" in result.output and "advocate_tier" in result.output
    assert portal.portal.properties["advocate_tier"]["type"] == "string"
    # everything else was still installed
    assert portal.portal.properties["advocate_readiness_score"]["type"] == "number"


def test_missing_enumeration_options_are_added(portal: SandboxHandle,
                                               env: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    requests.post(f"{portal.url}/crm/v3/properties/contacts", headers=headers, timeout=5, json={
        "name": "referral_status", "label": "Referral status", "type": "enumeration",
        "fieldType": "select", "groupName": "contactinformation",
        "options": [{"label": "Invited (ours)", "value": "invited", "displayOrder": 0}]})
    assert _install(env).exit_code == 0
    options = portal.portal.properties["referral_status"]["options"]
    assert options[0]["label"] == "Invited (ours)"  # the admin's option is kept as it is
    assert {o["value"] for o in options} == set(SCHEMA.definitions["referral_status"].options)


def test_without_a_program_file_workflows_are_skipped(portal: SandboxHandle,
                                                      env: dict[str, str],
                                                      tmp_path: Path) -> None:
    result = _install({**env, "CONNECTOR_PROGRAM": str(tmp_path / "absent.yaml")})
    assert result.exit_code == 0, result.output
    assert "no program file" in result.output
    assert "POST /automation/v4/flows" not in _writes(portal)


def test_rejected_token_is_one_line_and_fails(env: dict[str, str]) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "connector.cli", "install"], cwd=PROJECT_ROOT, text=True,
        capture_output=True, timeout=60, env={**os.environ, **env, "HUBSPOT_ACCESS_TOKEN": "x"},
    )
    assert completed.returncode != 0
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: HubSpot rejected the access token")


def test_trigger_properties_missing_from_the_schema_are_made_as_text() -> None:
    from dataclasses import replace

    from connector.cli.installer import trigger_definitions
    from connector.program.config import Workflow

    program = load_program(PROGRAM_PATH)
    program = replace(program, workflows={
        **program.workflows, "invitation": Workflow("invitation", None, "brand_new_trigger")})
    extra = trigger_definitions(SCHEMA, program)
    assert [(d.name, d.type, d.field_type) for d in extra] == [
        ("brand_new_trigger", "string", "text")]
    assert trigger_definitions(SCHEMA, replace(program, enrollment_mode="api")) == []


def test_missing_scopes_is_one_line(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from hubspot.crm.properties import ApiException

    from connector.cli.installer import Installer

    def refuse(self: Installer) -> None:
        raise ApiException(status=403, reason="Forbidden")

    monkeypatch.setattr(Installer, "plan", refuse)
    result = _install(env)
    assert result.exit_code == 2
    assert "error: HubSpot refused the call (403)" in result.output
    assert "crm.schemas.contacts.write" in result.output
