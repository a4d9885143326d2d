"""`connector calibrate --json` on the demo's database: the metrics, and the reason there is no
proposal (the demo's weeks take seconds, so no ask's outcome window has ended yet)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_calibrate_on_the_demo_database(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "CONNECTOR_", "DATABASE_URL", "DASHBOARD_"))}
    demo = subprocess.run(
        [sys.executable, "-m", "connector.cli", "demo", "--contacts", "400", "--dir",
         str(tmp_path / "demo")], env=env, capture_output=True, text=True, timeout=240)
    assert demo.returncode == 0, demo.stderr[-3000:]
    answer = subprocess.run(
        [sys.executable, "-m", "connector.cli", "calibrate", "--json"],
        env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo' / 'connector.db'}"},
        capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr[-3000:]
    document = json.loads(answer.stdout)
    read = document["snapshots_read"]
    assert read["total"] > 0 and read["total"] == read["window_open"]
    assert document["proposal"] is None
    assert "calibration needs at least 30" in document["verdict"]
    assert f"{read['total']} more asks have their window still open" in document["verdict"]
    # what has happened so far, marked as such
    provisional = document["provisional"]
    assert provisional["snapshots"] == read["total"] and provisional["positives"] > 0
    assert provisional["auc"] is not None and len(provisional["auc_interval"]) == 2
