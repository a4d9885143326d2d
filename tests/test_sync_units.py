"""The sync's pure parts: the write-back diff and the bounded read-ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from connector.config import PROJECT_ROOT
from connector.hubspot.schema import load_property_schema
from connector.scoring.model import ReadinessScore
from connector.sync.pipeline import read_ahead
from connector.sync.summary import SyncSummary
from connector.sync.writeback import after_write, diff, hubspot_datetime, readiness_properties

SCHEMA = load_property_schema(PROJECT_ROOT / "mappings" / "properties.yaml")
NOW = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)


def test_hubspot_datetime_is_utc_iso_with_milliseconds() -> None:
    assert hubspot_datetime(NOW) == "2026-03-01T12:30:05.123Z"
    plus_two = NOW.astimezone(timezone(timedelta(hours=2)))
    assert hubspot_datetime(plus_two) == "2026-03-01T12:30:05.123Z"


def test_scored_at_is_written_only_when_the_score_changes() -> None:
    readiness = ReadinessScore(72, "ready", "NPS 9 (+27)")
    first = readiness_properties(SCHEMA, readiness, {}, NOW)
    assert first == {"advocate_readiness_score": "72", "advocate_tier": "ready",
                     "advocate_score_reasons": "NPS 9 (+27)",
                     "advocate_scored_at": "2026-03-01T12:30:05.123Z"}
    written = after_write({}, diff({}, first))
    same = readiness_properties(SCHEMA, readiness, written, NOW + timedelta(days=1))
    assert "advocate_scored_at" not in same
    assert diff(written, same) == {}
    later = NOW + timedelta(hours=1)
    moved = readiness_properties(SCHEMA, ReadinessScore(75, "ready", "x"), written, later)
    assert diff(written, moved) == {
        "advocate_readiness_score": ["72", "75"],
        "advocate_score_reasons": ["NPS 9 (+27)", "x"],
        "advocate_scored_at": ["2026-03-01T12:30:05.123Z", "2026-03-01T13:30:05.123Z"],
    }


def test_after_write_returns_a_new_dict() -> None:
    written = {"a": "1"}
    merged = after_write(written, {"b": [None, "2"]})
    assert merged == {"a": "1", "b": "2"} and written == {"a": "1"}


def test_summary_counts_exclusions_and_issues_by_property_never_values() -> None:
    summary = SyncSummary()
    summary.count_score(ReadinessScore(10, "excluded", "", guardrails=["open escalation"],
                                       data_quality_issues=["product_logins_30d: 'abc'"]))
    summary.count_score(ReadinessScore(90, "champion", ""))
    text = "\n".join(summary.lines())
    assert summary.scored == 2 and summary.excluded == {"open escalation": 1}
    assert "product_logins_30d 1" in text and "abc" not in text


def _pages(count: int, log: list[int], delay: float = 0.0) -> Iterator[list[int]]:
    for number in range(count):
        time.sleep(delay)
        log.append(number)
        yield [number]


def test_read_ahead_keeps_order_and_reads_at_most_one_page_ahead() -> None:
    fetched: list[int] = []
    seen = []
    for page in read_ahead(_pages(6, fetched), ahead=1):
        time.sleep(0.02)  # let the reader run as far as it may
        assert len(fetched) <= page[0] + 2  # this page and the next one
        seen.append(page[0])
    assert seen == list(range(6))


def test_read_ahead_overlaps_reading_with_processing() -> None:
    start = time.monotonic()
    for _page in read_ahead(_pages(5, [], delay=0.05), ahead=1):
        time.sleep(0.05)
    # serial would take 0.5 s; overlapped about 0.3 s
    assert time.monotonic() - start < 0.42


def test_read_ahead_passes_the_reader_error_on() -> None:
    def broken() -> Iterator[list[int]]:
        yield [1]
        raise ValueError("search failed")

    with pytest.raises(ValueError, match="search failed"):
        list(read_ahead(broken()))


def test_read_ahead_stops_the_reader_when_the_consumer_fails() -> None:
    fetched: list[int] = []
    with pytest.raises(RuntimeError):
        for _page in read_ahead(_pages(100, fetched), ahead=1):
            raise RuntimeError("writer died")
    assert len(fetched) <= 2
    assert not [t for t in threading.enumerate() if t.name == "sync-reader"]
