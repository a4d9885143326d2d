"""The report as rich tables for a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table

# each stage counts the advocates who got at least that far in the period
FUNNEL_LABELS = {
    "eligible": "Eligible (tier at or above the program's minimum)",
    "invited": "Invited",
    "shared": "Shared (a person clicked their link)",
    "referred": "Referred at least once",
    "converted": "With a converted referral",
    "rewarded": "Rewarded",
}


# the Rewards table's rows: the earned total, its parts, then the rewards not earned (yet)
REWARD_ROWS = (
    ("granted", "earned (granted)"),
    ("held", "  held: inside the hold period"),
    ("payable", "  payable: hold over, to pay out"),
    ("sending", "  being paid"),
    ("paid", "  paid"),
    ("failed", "  payout failed: see `rewards list`"),
    ("legacy", "  granted before hold periods"),
    ("pending", "waiting for approval"),
    ("blocked", "blocked"),
    ("cancelled", "cancelled"),
)


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _value(values: dict[str, float]) -> str:
    return ", ".join(f"{amount:,.2f} {unit}" for unit, amount in sorted(values.items())) or "-"


def _revenue(revenue: dict[str, Any]) -> str:
    amount = revenue["referral_sourced"]
    return revenue["note"] if amount is None else f"{amount:,.2f}"


def _reward_numbers(report: dict[str, Any], key: str) -> dict[str, Any] | None:
    """One row of the Rewards table; None for the legacy `granted` status when no row has it."""
    states = report["rewards_granted_by_state"]
    if key in ("held", "payable", "sending", "paid", "failed"):
        return dict(states[key])
    if key == "legacy":
        return dict(states["granted"]) if states["granted"]["count"] else None
    return dict(report["rewards"][key])


def _pairs(title: str, rows: list[tuple[str, Any]], caption: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, min_width=len(title) + 4,
                  caption=caption, caption_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def _program(report: dict[str, Any]) -> list[Table]:
    funnel = report["funnel"]
    tables = [_pairs("Journey (advocates)", [(FUNNEL_LABELS[k], funnel[k]) for k in funnel])]
    tables.append(_pairs("Readiness tiers now", list(report["tiers"].items())))
    referrals = report["referrals"]
    rows: list[tuple[str, Any]] = [
        ("Referrals made", referrals["made"]),
        ("Active advocates", referrals["active_advocates"]),
        ("Converted", referrals["converted"]),
        ("Conversion rate", _rate(referrals["conversion_rate"])),
        ("Referral-sourced revenue", _revenue(report["revenue"])),
    ]
    clicks = report["clicks"]
    rows.append(("Share-link clicks (unique, by people)", clicks["unique"]))
    rows += [(f"  clicks crediting nobody: {why}", n) for why, n in clicks["not_credited"].items()]
    rows += [(f"Rejected: {reason}", count) for reason, count in referrals["rejected"].items()]
    review = report["review"]
    rows.append(("In fraud review", review["count"]))
    rows += [(f"  review: {reason}", count) for reason, count in review["by_reason"].items()]
    retention = report["retention"]
    rows.append(("Referred customers retained", _rate(retention["referred_rate"])))
    rows.append(("Other customers retained", _rate(retention["others_rate"])))
    note = retention["others_note"] if retention["others_rate"] is None else None
    tables.append(_pairs("Referrals", rows, caption=note))
    rewards = Table(title="Rewards", title_justify="left")
    for column in ("state", "count", "value"):
        rewards.add_column(column, justify="left" if column == "state" else "right")
    for key, label in REWARD_ROWS:
        numbers = _reward_numbers(report, key)
        if numbers is not None:
            rewards.add_row(label, str(numbers["count"]), _value(numbers["value"]))
    tables.append(rewards)
    return tables


def _advocates(report: dict[str, Any]) -> list[Table]:
    tables = []
    if report["top_advocates"]:
        top = Table(title="Top advocates", title_justify="left")
        for column in ("contact", "tier", "code", "referrals", "converted", "rewards earned"):
            top.add_column(column)
        for a in report["top_advocates"]:
            top.add_row(a["contact_id"], a["tier"] or "-", a["referral_code"] or "-",
                        str(a["referrals"]), str(a["converted"]), f"{a['rewards_earned']:,.2f}")
        tables.append(top)
    if report["rewards_pending_approval"]:
        waiting = Table(title="Rewards waiting for approval", title_justify="left")
        for column in ("id", "contact", "role", "reward", "why"):
            waiting.add_column(column)
        for r in report["rewards_pending_approval"]:
            waiting.add_row(str(r["id"]), r["contact_id"], r["role"], r["label"], r["reason"] or "")
        tables.append(waiting)
    quality = report["data_quality"]
    rows = [("Contacts with missing or malformed values", quality["contacts"])]
    rows += [(f"  {issue}", count) for issue, count in quality["issues"].items()]
    tables.append(_pairs("Data quality", rows))
    return tables


def _connector(report: dict[str, Any]) -> list[Table]:
    state = report["connector"]
    rows: list[tuple[str, Any]] = [
        (f"Sync `{p['name']}` last success", p["last_success_at"] or "never")
        for p in state["sync"]
    ] or [("Sync", "never ran")]
    rows += [
        ("Writes to retry at the next sync", state["retry_backlog"]),
        ("Inbox backlog", state["inbox"]["backlog"]),
        ("Dead events", state["inbox"]["dead"]),
        ("Outbox backlog", state["outbox"]["backlog"]),
        ("Dead outbox items", state["outbox"]["dead"]),
        ("HubSpot calls, last 24 h", state["api_last_24h"]["calls"]),
        ("HubSpot 429 answers, last 24 h", state["api_last_24h"]["rate_limited"]),
    ]
    rows += [(f"PAUSED since {p['since']}", p["reason"]) for p in state.get("paused") or []]
    return [_pairs("Connector", rows)]


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """Print every section of the report as tables."""
    console = console or Console()
    period = report["period"]
    console.print(f"[bold]Advocate program report[/bold]  from {period['since'] or 'the start'}"
                  f" to {period['until'] or 'now'}")
    console.print(Group(*_program(report), *_advocates(report), *_connector(report)))
