"""The program's rules, read from `workflows/program.yaml` and validated at start."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connector.errors import UserError
from connector.yamlfile import read_yaml

INVITABLE_TIERS = ("champion", "ready")
# in the journey's order, except `shared` (first click, between reminder and friend_signed_up),
# which came later and goes last so that the steps before it keep their places
STEPS = ("invitation", "reminder", "friend_signed_up", "reward_advocate", "reward_friend",
         "shared")
# steps added after the first release: a program file without them still loads (property mode
# uses the default trigger below, api mode leaves the step without a workflow)
OPTIONAL_STEPS = {"shared": "referral_shared_trigger"}
PERIODS = ("month", "quarter", "year")
SAME_DOMAIN_RULES = ("allow", "review", "reject")
PAYOUT_PROVIDERS = ("manual", "tremendous")


class ProgramConfigError(UserError):
    """The program file is malformed; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Reward:
    amount: Decimal
    unit: str
    label: str


@dataclass(frozen=True)
class Workflow:
    """Where one journey step enrolls: a workflow id (api mode) or a trigger property."""

    step: str
    workflow_id: str | None
    trigger_property: str | None


@dataclass(frozen=True)
class ProgramConfig:
    min_tier: str = "ready"
    cooldown_days: int = 90
    max_invitations_per_year: int = 4
    # the program's name (the share link's utm_campaign) and the page with the HubSpot form
    name: str = "advocate-referrals"
    landing_page: str = "https://example.com/refer"
    # the old way to build referral_link (a URL with {code}); used only without a public URL
    link_template: str | None = None
    # set by the runtime, not the file: the connector's public URL (share links go through
    # `/r/<code>` there) and the HubSpot name of `referred_by_code` (the form's hidden field)
    share_base_url: str | None = None
    code_parameter: str = "referred_by_code"
    reminder_delay_days: int = 7
    reminder_count: int = 2
    conversion_mode: str = "lifecycle_stage"
    conversion_stage: str = "customer"
    # deal_closed_won mode: the stage ids that count as closed won (one per pipeline)
    conversion_deal_stages: tuple[str, ...] = ("closedwon",)
    window_days: int = 90
    advocate_reward: Reward = Reward(Decimal(50), "USD", "$50 gift card")
    friend_reward: Reward = Reward(Decimal(20), "USD", "20% off")
    cap_max: int | None = 5
    cap_period: str = "quarter"
    approval_threshold: Decimal | None = None
    hold_days: int = 30
    revenue_property: str = "total_revenue"
    max_referrals_per_day: int | None = 5
    reject_same_email: bool = True
    same_domain: str = "allow"
    disposable_domains: frozenset[str] = frozenset()
    enrollment_mode: str = "property"
    workflows: dict[str, Workflow] = field(default_factory=dict)
    # who pays each role's reward: `manual` (a person, recorded with `rewards paid`) or
    # `tremendous` (a gift card order); above `payout_daily_limit` a day, rewards wait
    payout_providers: dict[str, str] = field(
        default_factory=lambda: {"advocate": "manual", "friend": "manual"})
    payout_daily_limit: Decimal | None = None
    tremendous_campaign_id: str | None = None

    def link(self, code: str) -> str:
        """The advocate's referral link: the share link `<public URL>/r/<code>` when the
        connector has a public URL; else the old `link_template` when the file sets one; else
        the landing page itself with the code (clicks are then not counted)."""
        if self.share_base_url:
            return f"{self.share_base_url}/r/{code}"
        if self.link_template:
            return self.link_template.format(code=code)
        return self.landing_url(code)

    def landing_url(self, code: str | None) -> str:
        """The landing page with the form's hidden field and the UTM parameters; `code=None`
        (an unknown, malformed or opted-out code) lands without a code."""
        parts = urlsplit(self.landing_page)
        ours = {"utm_source": "referral", "utm_medium": "advocate", "utm_campaign": self.name}
        if code:
            ours = {self.code_parameter: code, **ours}
        # the page's own query parameters stay, except ours, which win
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if k not in ours and k != self.code_parameter]
        return urlunsplit(parts._replace(query=urlencode([*kept, *ours.items()])))

    def deployed(self, *, public_url: str | None, code_parameter: str) -> ProgramConfig:
        """The program as one deployment runs it: its public URL and the code's field name."""
        return replace(self, share_base_url=(public_url or "").rstrip("/") or None,
                       code_parameter=code_parameter)

    @property
    def revenue_source(self) -> str:
        """Where referral revenue comes from, in words (the report prints it)."""
        if self.conversion_mode == "deal_closed_won":
            return "the amount of the deal that converted the referral"
        return f"the referred contact's {self.revenue_property} at conversion"

    def trigger_properties(self) -> list[str]:
        """The trigger properties the write-back sets in `property` mode."""
        if self.enrollment_mode != "property":
            return []
        return [w.trigger_property for w in self.workflows.values() if w.trigger_property]


class _Reader:
    """Reads typed values at dotted keys, raising ProgramConfigError with file and key."""

    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path, self.raw = path, raw

    def fail(self, key: str, problem: str) -> ProgramConfigError:
        return ProgramConfigError(f"{self.path}: {key}: {problem}")

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.raw
        for part in key.split("."):
            if node is None:
                return default
            if not isinstance(node, dict):
                raise self.fail(key, "expected a mapping above this key")
            node = node.get(part)
        return default if node is None else node

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"{value!r} is not a whole number")
        if value < minimum:
            raise self.fail(key, f"{value} is below {minimum}")
        return value

    def amount(self, key: str, default: Any) -> Decimal:
        value = self.get(key, default)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(key, f"{value!r} is not a number") from None
        if isinstance(value, bool) or not number.is_finite() or number < 0:
            raise self.fail(key, f"{value!r} is not a number of at least 0")
        return number

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = str(self.get(key, default))
        if value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def url(self, key: str, default: str) -> str:
        value = self.text(key, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            raise self.fail(key, f"{value!r} is not an http(s) URL without a #fragment")
        return value

    def text(self, key: str, default: str) -> str:
        value = self.get(key, default)
        if not isinstance(value, str | int) or not str(value).strip():
            raise self.fail(key, "expected a non-empty text")
        return str(value).strip()

    def reward(self, key: str, default: Reward) -> Reward:
        return Reward(self.amount(f"{key}.amount", default.amount),
                      self.text(f"{key}.unit", default.unit),
                      self.text(f"{key}.label", default.label))


def load_program(path: Path | str) -> ProgramConfig:
    """Read and validate the program file; raise ProgramConfigError on the first problem."""
    path = Path(path)
    raw = read_yaml(path, ProgramConfigError)
    if not isinstance(raw, dict):
        raise ProgramConfigError(f"{path}: expected a mapping of program settings")
    return _build(_Reader(path, raw))


def _build(r: _Reader) -> ProgramConfig:
    base = ProgramConfig()
    template = r.get("invitation.link_template")
    if template is not None:
        template = r.text("invitation.link_template", "")
        if "{code}" not in template or not template.startswith(("http://", "https://")):
            raise r.fail("invitation.link_template", "expected an http(s) URL containing {code}")
    name = r.text("name", base.name)
    if len(name) > 100:
        raise r.fail("name", "expected at most 100 characters (it is the utm_campaign)")
    mode = r.choice("conversion.mode", "lifecycle_stage", ("lifecycle_stage", "deal_closed_won"))
    deal_stages = r.get("conversion.deal_stages", ["closedwon"])
    if isinstance(deal_stages, str | int):
        deal_stages = [deal_stages]
    if not isinstance(deal_stages, list) or not all(
            isinstance(s, str | int) and str(s).strip() for s in deal_stages) or not deal_stages:
        raise r.fail("conversion.deal_stages", "expected a list of deal stage ids")
    cap_max = r.get("rewards.cap.max")
    threshold = r.get("rewards.approval_threshold")
    enrollment_mode = r.choice("enrollment.mode", "property", ("property", "api"))
    return ProgramConfig(
        min_tier=r.choice("invitation.min_tier", base.min_tier, INVITABLE_TIERS),
        cooldown_days=r.integer("invitation.cooldown_days", base.cooldown_days),
        max_invitations_per_year=r.integer("invitation.max_per_year", 4, minimum=1),
        name=name,
        landing_page=r.url("landing_page", base.landing_page),
        link_template=template,
        reminder_delay_days=r.integer("reminders.delay_days", 7, minimum=1),
        reminder_count=r.integer("reminders.count", 2),
        conversion_mode=mode,
        conversion_stage=r.text("conversion.stage", base.conversion_stage),
        conversion_deal_stages=tuple(str(s).strip() for s in deal_stages),
        window_days=r.integer("conversion.window_days", base.window_days, minimum=1),
        advocate_reward=r.reward("rewards.advocate", base.advocate_reward),
        friend_reward=r.reward("rewards.friend", base.friend_reward),
        cap_max=None if cap_max is None else r.integer("rewards.cap.max", 0),
        cap_period=r.choice("rewards.cap.period", base.cap_period, PERIODS),
        approval_threshold=(None if threshold is None
                            else r.amount("rewards.approval_threshold", threshold)),
        hold_days=r.integer("rewards.hold_days", base.hold_days),
        revenue_property=r.text("conversion.revenue_property", base.revenue_property),
        # 0 turns the velocity check off
        max_referrals_per_day=r.integer("fraud.max_referrals_per_day", 5) or None,
        reject_same_email=bool(r.get("fraud.reject_same_email", True)),
        same_domain=r.choice("fraud.same_domain", "allow", SAME_DOMAIN_RULES),
        disposable_domains=frozenset(
            str(d).strip().lower() for d in r.get("fraud.disposable_domains", []) or []),
        enrollment_mode=enrollment_mode,
        workflows={step: _workflow(r, step, enrollment_mode) for step in STEPS},
        **_payouts(r),
    )


def _payouts(r: _Reader) -> dict[str, Any]:
    providers = {role: r.choice(f"payouts.{role}.provider", "manual", PAYOUT_PROVIDERS)
                 for role in ("advocate", "friend")}
    limit = r.get("payouts.daily_limit")
    campaign = r.get("payouts.tremendous.campaign_id")
    if "tremendous" in providers.values() and not (isinstance(campaign, str) and campaign.strip()):
        raise r.fail("payouts.tremendous.campaign_id",
                     "a Tremendous campaign id is needed to pay rewards through Tremendous")
    return {"payout_providers": providers,
            "payout_daily_limit": None if limit is None else r.amount("payouts.daily_limit", limit),
            "tremendous_campaign_id": campaign.strip() if isinstance(campaign, str) else None}


def _workflow(r: _Reader, step: str, mode: str) -> Workflow:
    key = f"enrollment.workflows.{step}"
    if step in OPTIONAL_STEPS and r.get(key) is None:
        return Workflow(step, None, OPTIONAL_STEPS[step] if mode == "property" else None)
    workflow_id = r.get(f"{key}.workflow_id")
    trigger = r.get(f"{key}.trigger_property")
    digits = str(workflow_id).strip()
    if mode == "api" and (workflow_id is None or not (digits.isascii() and digits.isdigit())):
        raise r.fail(f"{key}.workflow_id", "api mode needs the workflow's numeric (v2) id")
    if mode == "property" and not (isinstance(trigger, str) and trigger.strip()):
        raise r.fail(f"{key}.trigger_property", "property mode needs a trigger property name")
    return Workflow(step, None if workflow_id is None else str(workflow_id).strip(),
                    trigger.strip() if isinstance(trigger, str) else None)
