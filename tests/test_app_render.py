"""`render_project`: the HubSpot developer project rendered from the template, the mapping and
the program (the offline parse by HubSpot's own library is in test_app_project_node.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from connector.cli.app_project import (
    AUTOMATION_SCOPE,
    DEAL_SCOPE,
    TEMPLATE_DIR,
    AppRenderError,
    check_public_url,
    render_project,
    subscribed_properties,
)
from connector.errors import UserError
from connector.hubspot.schema import PropertySchema, load_property_schema
from connector.program.config import ProgramConfig, load_program
from connector.scoring.mapping import Mapping, load_mapping

ROOT = Path(__file__).resolve().parent.parent
URL = "https://advocate.example.com"
CONTACT_SCOPES = ["crm.objects.contacts.read", "crm.objects.contacts.write",
                  "crm.schemas.contacts.read", "crm.schemas.contacts.write"]
# the contact.propertyChange subscriptions README.md tells an admin to add by hand
README_PROPERTIES = sorted([
    "lifecyclestage", "hs_feedback_last_nps_rating", "hs_feedback_last_survey_date",
    "hs_email_optout", "referred_by_code", "product_logins_30d", "success_milestones_reached",
    "social_mentions_90d", "open_support_escalations", "support_csat_score",
])


@pytest.fixture(scope="module")
def config() -> tuple[Mapping, ProgramConfig, PropertySchema]:
    return (load_mapping(ROOT / "mappings" / "signals.yaml"),
            load_program(ROOT / "workflows" / "program.yaml"),
            load_property_schema(ROOT / "mappings" / "properties.yaml"))


def meta(project: Path, relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / "src" / "app" / relative).read_text())
    return data


def subscriptions(project: Path) -> list[tuple[str, str | None]]:
    subs = meta(project, "webhooks/webhooks-hsmeta.json")["config"]["subscriptions"]
    return [(s["subscriptionType"], s.get("propertyName"))
            for group in ("crmObjects", "legacyCrmObjects", "hubEvents") for s in subs[group]]


def changed_properties(project: Path) -> list[str]:
    return [name or "" for kind, name in subscriptions(project)
            if kind == "contact.propertyChange"]


def test_renders_the_real_mapping_and_program(tmp_path: Path, config: Any) -> None:
    properties = subscribed_properties(*config)
    assert properties == README_PROPERTIES

    out = render_project(TEMPLATE_DIR, tmp_path / "project", URL + "/",
                         contact_properties=properties, deal_mode=False)

    assert out == tmp_path / "project"
    assert json.loads((out / "hsproject.json").read_text()) == {
        "name": "advocate-connector", "srcDir": "src", "platformVersion": "2026.03"}
    app = meta(out, "app-hsmeta.json")["config"]
    assert app["distribution"] == "private"
    assert app["auth"]["type"] == "static"
    assert app["auth"]["requiredScopes"] == CONTACT_SCOPES
    assert app["auth"]["optionalScopes"] == []
    assert app["permittedUrls"]["fetch"] == [URL]

    webhooks = meta(out, "webhooks/webhooks-hsmeta.json")["config"]
    assert webhooks["settings"]["targetUrl"] == f"{URL}/webhooks/hubspot"
    subs = webhooks["subscriptions"]
    assert all(s["active"] is True for group in subs.values() for s in group)
    assert subscriptions(out) == [
        ("contact.creation", None), ("contact.deletion", None), ("contact.merge", None),
        *[("contact.propertyChange", p) for p in README_PROPERTIES],
        ("contact.privacyDeletion", None),
    ]
    assert subs["hubEvents"] == [{"subscriptionType": "contact.privacyDeletion", "active": True}]

    actions = {meta(out, f"workflow-actions/{name}-hsmeta.json")["config"]["actionUrl"]
               for name in ("check-readiness", "invite")}
    assert actions == {f"{URL}/app/actions/check-readiness", f"{URL}/app/actions/invite"}
    constant = (out / "src" / "app" / "cards" / "config.ts").read_text()
    assert f"export const PUBLIC_URL: string = '{URL}';" in constant

    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert "hsproject.json" in files
    assert not [f for f in files if not (f == "hsproject.json" or f.startswith("src/"))]
    assert not [f for f in files if "node_modules" in f]
    for path in out.rglob("*"):
        if path.is_file():
            assert not re.search(r"__[A-Z_]+__", path.read_text()), path


def test_a_renamed_property_in_a_copied_mapping_changes_the_subscription(
        tmp_path: Path, config: Any) -> None:
    _, program, schema = config
    text = (ROOT / "mappings" / "signals.yaml").read_text()
    assert "property: product_logins_30d" in text
    copy = tmp_path / "signals.yaml"
    copy.write_text(text.replace("property: product_logins_30d", "property: app_sessions_30d"))
    renamed = subscribed_properties(load_mapping(copy), program, schema)

    assert "app_sessions_30d" in renamed
    assert "product_logins_30d" not in renamed
    out = render_project(TEMPLATE_DIR, tmp_path / "project", URL, contact_properties=renamed,
                         deal_mode=False)
    assert "app_sessions_30d" in changed_properties(out)
    assert "product_logins_30d" not in changed_properties(out)


def test_properties_hubspot_changes_on_its_own_are_left_to_the_sync(config: Any) -> None:
    mapping, program, schema = config
    properties = subscribed_properties(mapping, program, schema)
    assert "hs_email_last_open_date" in mapping.properties
    assert "hs_email_last_open_date" not in properties
    assert "hs_lifecyclestage_customer_date" not in properties
    assert schema.name("referred_by_code") in properties
    assert program.revenue_property not in properties


def test_deal_mode_adds_the_deal_subscriptions_and_scope(tmp_path: Path, config: Any) -> None:
    properties = subscribed_properties(*config)
    out = render_project(TEMPLATE_DIR, tmp_path / "deals", URL, contact_properties=properties,
                         deal_mode=True)

    deals = [s for s in subscriptions(out) if s[0].startswith("deal.")]
    assert deals == [("deal.creation", None), ("deal.propertyChange", "dealstage"),
                     ("deal.deletion", None)]
    scopes = meta(out, "app-hsmeta.json")["config"]["auth"]["requiredScopes"]
    assert scopes == [*CONTACT_SCOPES, DEAL_SCOPE]
    assert changed_properties(out) == README_PROPERTIES  # contacts unchanged


def test_api_enrollment_adds_the_automation_scope(tmp_path: Path) -> None:
    out = render_project(TEMPLATE_DIR, tmp_path / "api", URL, contact_properties=["lifecyclestage"],
                         deal_mode=False, api_enrollment=True)
    scopes = meta(out, "app-hsmeta.json")["config"]["auth"]["requiredScopes"]
    assert scopes == [*CONTACT_SCOPES, AUTOMATION_SCOPE]


def test_the_scopes_are_the_readme_table(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("| scope | why |", 1)[1].split("\n\n", 1)[0]
    table = set(re.findall(r"^\| `([a-z.]+)` \|", section, re.MULTILINE))
    assert len(table) == 6
    out = render_project(TEMPLATE_DIR, tmp_path / "p", URL, contact_properties=["email_x"],
                         deal_mode=True, api_enrollment=True)
    scopes = set(meta(out, "app-hsmeta.json")["config"]["auth"]["requiredScopes"])
    assert scopes == table


@pytest.mark.parametrize("url, problem", [
    ("http://advocate.example.com", "https URLs only"),
    ("ftp://advocate.example.com", "https URLs only"),
    ("advocate.example.com", "no https:// scheme"),
    ("https://", "no host"),
    ("https:///webhooks", "no host"),
    ("https://advocate.example.com/connector", "a path (/connector)"),
    ("https://advocate.example.com/webhooks/hubspot", "a path"),
    ("https://advocate.example.com/?x=1", "a query"),
    ("https://advocate.example.com?", "a query"),
    ("https://advocate.example.com/#top", "a fragment"),
    ("https://user:secret@advocate.example.com", "credentials"),
    ("https://localhost:8443", "cannot reach localhost"),
    ("https://127.0.0.1", "cannot reach localhost"),
    ("https://advocate example.com", "not a host name"),
    ("https://advocate.example.com:99999", "not a URL"),
    ("", "empty"),
])
def test_a_bad_public_url_is_one_error(tmp_path: Path, url: str, problem: str) -> None:
    out = tmp_path / "project"
    with pytest.raises(UserError) as caught:
        render_project(TEMPLATE_DIR, out, url, contact_properties=["lifecyclestage"],
                       deal_mode=False)
    message = str(caught.value)
    assert isinstance(caught.value, AppRenderError)
    assert "\n" not in message
    assert problem in message
    assert "secret" not in message
    assert not out.exists()  # nothing written


@pytest.mark.parametrize("url, origin", [
    ("https://advocate.example.com", URL),
    ("https://advocate.example.com/", URL),
    ("  https://Advocate.Example.COM/ ", URL),
    ("https://advocate.example.com:8443", URL + ":8443"),
    ("https://203.0.113.7", "https://203.0.113.7"),
])
def test_a_good_public_url_becomes_the_origin(url: str, origin: str) -> None:
    assert check_public_url(url) == origin


def test_rendering_again_replaces_an_earlier_render(tmp_path: Path) -> None:
    out = tmp_path / "project"
    render_project(TEMPLATE_DIR, out, URL, contact_properties=["lifecyclestage"],
                   deal_mode=True)
    (out / "src" / "app" / "stale-hsmeta.json").write_text("{}")
    (out / "hsprofile.prod.json").write_text("{}")  # the admin's own file stays
    render_project(TEMPLATE_DIR, out, "https://other.example.com",
                   contact_properties=["hs_email_optout"], deal_mode=False)

    assert not (out / "src" / "app" / "stale-hsmeta.json").exists()
    assert (out / "hsprofile.prod.json").exists()
    assert changed_properties(out) == ["hs_email_optout"]
    target = meta(out, "webhooks/webhooks-hsmeta.json")["config"]["settings"]["targetUrl"]
    assert target == "https://other.example.com/webhooks/hubspot"


def test_a_directory_of_something_else_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(AppRenderError, match="not empty"):
        render_project(TEMPLATE_DIR, out, URL, contact_properties=["lifecyclestage"],
                       deal_mode=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_directory_that_is_not_the_template_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(AppRenderError, match="not the connector's HubSpot project template"):
        render_project(tmp_path, tmp_path / "out", URL, contact_properties=["lifecyclestage"],
                       deal_mode=False)


def test_a_blank_property_name_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(AppRenderError, match="contact property"):
        render_project(TEMPLATE_DIR, tmp_path / "out", URL, contact_properties=[" "],
                       deal_mode=False)


def test_connector_app_render_writes_the_project_from_this_deployment(tmp_path) -> None:
    from click.testing import CliRunner

    from connector.cli import cli

    out = tmp_path / "project"
    result = CliRunner().invoke(cli, ["app", "render", "--public-url",
                                      "https://advocate.example.com", "--out", str(out)])
    assert result.exit_code == 0, result.output
    hooks = json.loads(next(out.rglob("webhooks-hsmeta.json")).read_text())
    assert hooks["config"]["settings"]["targetUrl"] == (
        "https://advocate.example.com/webhooks/hubspot")
    refused = CliRunner().invoke(cli, ["app", "render", "--public-url", "http://plain.example",
                                       "--out", str(tmp_path / "other")])
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1 and refused.output.startswith("error: ")
    assert not (tmp_path / "other").exists()
