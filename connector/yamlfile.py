"""Reading the connector's YAML files, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connector.errors import UserError


def read_yaml(path: Path, error: type[UserError]) -> Any:
    """Parse the file; a missing file or invalid YAML raises `error` naming the file."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
