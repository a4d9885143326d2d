"""Render `hubspot-app/` into a project that `hs project upload` can take.

The template holds `__PUBLIC_URL__` wherever HubSpot must reach the connector (the webhook
target, the workflow actions' URLs, the URLs the card may fetch, the card's own constant) and
placeholders for the webhook subscriptions. Rendering copies the project (`hsproject.json` and
`src/`, never the Node tooling beside them), puts the deployment's public URL in, writes the
subscriptions derived from the mapping and the program, and adds the scopes the program's
modes need. Nothing here talks to HubSpot.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connector.errors import UserError
from connector.hubspot.schema import PropertySchema
from connector.program.config import ProgramConfig
from connector.program.hooks import OWN_PROPERTIES
from connector.scoring.mapping import Mapping

# the template in a source checkout; `connector app render` may point elsewhere
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "hubspot-app"
PROJECT_FILES = ("hsproject.json", "src")  # what is uploaded; the rest is test tooling
PUBLIC_URL = "__PUBLIC_URL__"
PLACEHOLDER = re.compile(r"__[A-Z][A-Z_]*__")
TEXT_SUFFIXES = (".json", ".ts", ".tsx", ".js", ".jsx", ".md")
PROJECT_NAME = "advocate-connector"

DEAL_SCOPE = "crm.objects.deals.read"  # conversion.mode deal_closed_won
AUTOMATION_SCOPE = "automation"  # enrollment.mode api (the v2 enrollment endpoint)
DEAL_STAGE = "dealstage"
# HubSpot: at most 1,000 webhook subscriptions per app
MAX_SUBSCRIPTIONS = 1000

# Properties the connector reads but does not subscribe to; the scheduled sync reads them:
# - HubSpot updates the email engagement dates on every open and click: a webhook and a
#   re-score per newsletter opened, for a signal that decays with time anyway;
# - the customer date moves with `lifecyclestage`, which is subscribed;
# - `createdate` never changes, and `email` is read when the contact is created.
UNSUBSCRIBED = frozenset({
    "hs_email_last_open_date",
    "hs_email_last_click_date",
    "hs_lifecyclestage_customer_date",
    "createdate",
    "email",
})
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104 - a name, not a bind


class AppRenderError(UserError):
    """The public URL, the template or the output directory does not allow a render."""


def check_public_url(public_url: str) -> str:
    """The connector's public origin, `https://host[:port]`; AppRenderError says what is wrong."""
    given = public_url if isinstance(public_url, str) else ""
    text = given.strip()
    shown = re.sub(r"//[^/?#]*@", "//***@", given)  # never echo credentials

    def fail(problem: str) -> AppRenderError:
        return AppRenderError(f"public URL {shown!r}: {problem}; give the connector's https "
                              "origin, e.g. https://advocate.example.com")

    if not text:
        raise fail("it is empty")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise fail(f"not a URL ({exc})") from None
    if parts.scheme != "https":
        raise fail("HubSpot calls and fetches https URLs only" if parts.scheme
                   else "it has no https:// scheme")
    host = parts.hostname or ""
    if not host:
        raise fail("it has no host")
    if parts.username is not None or parts.password is not None:
        raise fail("it carries credentials")
    if parts.path not in ("", "/"):
        raise fail(f"it has a path ({parts.path})")
    if parts.query or "?" in text:
        raise fail("it has a query")
    if parts.fragment or "#" in text:
        raise fail("it has a fragment")
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        raise fail("HubSpot cannot reach localhost")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise fail(f"{host!r} is not a host name") from None
        host = f"[{host}]"
    elif not _HOST.match(host):
        raise fail(f"{host!r} is not a host name")
    return f"https://{host}" + (f":{port}" if port is not None else "")


def subscribed_properties(mapping: Mapping, program: ProgramConfig,
                          schema: PropertySchema) -> list[str]:
    """The contact properties whose changes HubSpot should send, sorted.

    Every property the mapping's signals and guardrails read, and those the program reads
    (its own HubSpot properties and `referred_by_code`), except UNSUBSCRIBED. The program's
    revenue property is read once, at conversion, which `lifecyclestage` (or the deal) marks.
    """
    del program  # it reads no contact property beyond OWN_PROPERTIES and the code
    reads = [*mapping.properties, *OWN_PROPERTIES, schema.name("referred_by_code")]
    return sorted({p for p in reads if p and p not in UNSUBSCRIBED})


def webhook_subscriptions(contact_properties: Iterable[str],
                          deal_mode: bool) -> dict[str, list[dict[str, Any]]]:
    """The `subscriptions` of webhooks-hsmeta.json, all active.

    Legacy (`contact.*`, `deal.*`) types, not the generic `object.*` ones: their events carry
    `subscriptionType` such as `contact.propertyChange`, which the worker reads.
    """
    names = _property_names(contact_properties)
    legacy: list[dict[str, Any]] = [
        {"subscriptionType": "contact.creation", "active": True},
        {"subscriptionType": "contact.deletion", "active": True},
        {"subscriptionType": "contact.merge", "active": True},
    ]
    legacy += [{"subscriptionType": "contact.propertyChange", "propertyName": name, "active": True}
               for name in names]
    if deal_mode:
        legacy += [
            {"subscriptionType": "deal.creation", "active": True},
            {"subscriptionType": "deal.propertyChange", "propertyName": DEAL_STAGE,
             "active": True},
            {"subscriptionType": "deal.deletion", "active": True},
        ]
    hub = [{"subscriptionType": "contact.privacyDeletion", "active": True}]
    if len(legacy) + len(hub) > MAX_SUBSCRIPTIONS:
        raise AppRenderError(f"{len(legacy) + len(hub)} webhook subscriptions: HubSpot allows "
                             f"{MAX_SUBSCRIPTIONS} per app; subscribe to fewer properties")
    return {"crmObjects": [], "legacyCrmObjects": legacy, "hubEvents": hub}


def render_project(template_dir: Path, out_dir: Path, public_url: str, *,
                   contact_properties: list[str], deal_mode: bool,
                   api_enrollment: bool = False) -> Path:
    """Write the project for this deployment into `out_dir` and return `out_dir`.

    `contact_properties`: `subscribed_properties(...)`; `deal_mode`: the program converts on
    deals (`conversion.mode: deal_closed_won`): deal subscriptions and the deals scope;
    `api_enrollment`: `enrollment.mode: api`: the `automation` scope. `out_dir` may be missing,
    empty or an earlier render (its `src/` is replaced; other files stay).
    """
    origin = check_public_url(public_url)
    subscriptions = webhook_subscriptions(contact_properties, deal_mode)
    template_dir, out_dir = Path(template_dir), Path(out_dir)
    for name in PROJECT_FILES:
        if not (template_dir / name).exists():
            raise AppRenderError(f"{template_dir}: not the connector's HubSpot project template "
                                 f"(no {name})")
    _prepare(out_dir)
    shutil.copy2(template_dir / "hsproject.json", out_dir / "hsproject.json")
    shutil.copytree(template_dir / "src", out_dir / "src",
                    ignore=shutil.ignore_patterns("node_modules", ".*"))
    for path in _text_files(out_dir):
        text = path.read_text(encoding="utf-8")
        if PUBLIC_URL in text:
            path.write_text(text.replace(PUBLIC_URL, origin), encoding="utf-8")

    app = out_dir / "src" / "app"
    webhooks = _one(app / "webhooks")
    meta = _read_json(webhooks)
    meta["config"]["subscriptions"] = subscriptions
    _write_json(webhooks, meta)
    app_meta = _one(app)
    meta = _read_json(app_meta)
    scopes = meta["config"].get("auth", {}).get("requiredScopes")
    if not isinstance(scopes, list):
        raise AppRenderError(f"{app_meta}: config.auth.requiredScopes: expected a list")
    # a static-auth app can only declare required scopes (developer platform docs)
    for scope, wanted in ((DEAL_SCOPE, deal_mode), (AUTOMATION_SCOPE, api_enrollment)):
        if wanted and scope not in scopes:
            scopes.append(scope)
    _write_json(app_meta, meta)

    left = sorted(str(p.relative_to(out_dir)) for p in _text_files(out_dir)
                  if PLACEHOLDER.search(p.read_text(encoding="utf-8")))
    if left:
        raise AppRenderError(f"{template_dir}: placeholders the renderer does not know are left "
                             f"in {', '.join(left)}")
    return out_dir


def _property_names(contact_properties: Iterable[str]) -> list[str]:
    names: set[str] = set()
    for name in contact_properties:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise AppRenderError(f"contact property {name!r}: expected a HubSpot internal name")
        names.add(name)
    return sorted(names)


def _prepare(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise AppRenderError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        previous = out_dir / "hsproject.json"
        try:
            name = json.loads(previous.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError):
            name = None
        if name != PROJECT_NAME:
            raise AppRenderError(f"{out_dir}: not empty and not an earlier render of this "
                                 "project; choose another directory")
        shutil.rmtree(out_dir / "src", ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def _text_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)


def _one(directory: Path) -> Path:
    found: Sequence[Path] = sorted(directory.glob("*-hsmeta.json"))
    if len(found) != 1:
        raise AppRenderError(f"{directory}: expected one *-hsmeta.json, found {len(found)}")
    return found[0]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AppRenderError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise AppRenderError(f"{path}: expected an object with `config`")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
