#!/usr/bin/env bash
# Regenerate the initial migration from the models (only while nothing has been released).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/0001_initial.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from connector.db.migrate import alembic_config
cfg = alembic_config(f"sqlite:///{sys.argv[1]}/empty.db")
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
PY
mv migrations/versions/0001_initial_schema.py migrations/versions/0001_initial.py
rm -rf "$tmp"
