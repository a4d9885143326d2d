"""Settings read from the environment once, at start, and validated."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from connector.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_DATABASE_URL = "sqlite:///connector.db"


class ConfigError(UserError):
    """A setting is missing or invalid; the message is one line for the admin."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a whole number; set it to e.g. {default}"
        ) from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below {minimum}; set it to e.g. {default}")
    return value


def _port(env: Mapping[str, str], name: str) -> int | None:
    """An optional TCP port (1-65535); None when unset."""
    if not env.get(name, "").strip():
        return None
    port = _int(env, name, 9100)
    if port > 65535:
        raise ConfigError(f"{name}={port} is not a TCP port; set it to e.g. 9100")
    return port


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to e.g. {default}") from None
    if value <= 0:
        raise ConfigError(f"{name}={value} must be above 0; set it to e.g. {default}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value; set it to 1 or 0")


def _url(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL; set it to e.g. https://example.com")
    return raw.rstrip("/")


def normalise_database_url(url: str) -> str:
    """Accept the `postgres://` URLs hosting platforms hand out; use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


SUPPORTED_DATABASES = ("sqlite:///", "postgresql+psycopg://")


def read_database_url(env: Mapping[str, str]) -> str:
    """DATABASE_URL, normalised; a ConfigError for a kind of database the connector cannot use."""
    raw = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    url = normalise_database_url(raw)
    if not url.startswith(SUPPORTED_DATABASES):
        kind = url.split(":", 1)[0] if ":" in url else "no scheme"
        raise ConfigError(
            f"DATABASE_URL is a {kind} URL ({redact_url(raw)}); the connector runs on "
            "PostgreSQL (postgresql://user:password@host/db) or SQLite (sqlite:///file.db)")
    return url


@dataclass(frozen=True)
class Settings:
    """Every setting the connector reads; secrets are never printed (see `__repr__`)."""

    hubspot_access_token: str | None = None
    hubspot_client_secret: str | None = None
    hubspot_base_url: str = DEFAULT_BASE_URL
    public_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    rate_limit_per_10s: int = 100
    search_rate_per_s: float = 4.0
    dashboard_token: str | None = None
    workflow_webhook_key: str | None = None
    sync_interval_minutes: int = 10
    mapping_path: Path = PROJECT_ROOT / "mappings" / "signals.yaml"
    properties_path: Path = PROJECT_ROOT / "mappings" / "properties.yaml"
    program_path: Path = PROJECT_ROOT / "workflows" / "program.yaml"
    log_format: str = "auto"
    # web process: how long a dashboard login lasts; the port `connector serve` listens on;
    # where gunicorn workers share their metrics; whether pooled connections are pinged
    dashboard_session_hours: float = 8.0
    # proxies in front of the web process whose X-Forwarded-* headers are believed: 0 believes
    # none (a client could name any address or host); 1 for one load balancer, and so on
    trusted_proxy_hops: int = 0
    port: int = 8000
    prometheus_multiproc_dir: str | None = None
    # `worker` and `clock`: the port their own /metrics listens on (none when unset)
    metrics_port: int | None = None
    db_pre_ping: bool = True
    # the gift-card provider (reward payouts); the sandbox URL by default, so nothing spends
    # real money until TREMENDOUS_BASE_URL says so
    tremendous_api_key: str | None = None
    tremendous_base_url: str = "https://testflight.tremendous.com/api/v2"
    request_timeout: tuple[float, float] = field(default=(5.0, 30.0))
    # calibration: an ask's outcome counts when it comes within this many days of it
    calibration_window_days: int = 30

    def __repr__(self) -> str:
        hidden = {"hubspot_access_token", "hubspot_client_secret", "dashboard_token",
                  "workflow_webhook_key", "tremendous_api_key"}
        parts = []
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name in hidden and value:
                value = "***"
            elif name == "database_url":
                value = redact_url(str(value))
            parts.append(f"{name}={value!r}")
        return "Settings(" + ", ".join(parts) + ")"

    __str__ = __repr__

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; raise ConfigError with one line on a bad value."""
        env = os.environ if env is None else env
        log_format = env.get("LOG_FORMAT", "auto").strip() or "auto"
        if log_format not in ("auto", "json", "text"):
            raise ConfigError(f"LOG_FORMAT={log_format!r} is not one of auto, json, text")
        return cls(
            hubspot_access_token=env.get("HUBSPOT_ACCESS_TOKEN", "").strip() or None,
            hubspot_client_secret=env.get("HUBSPOT_CLIENT_SECRET", "").strip() or None,
            hubspot_base_url=_url(env, "HUBSPOT_BASE_URL", DEFAULT_BASE_URL) or DEFAULT_BASE_URL,
            public_url=_url(env, "CONNECTOR_PUBLIC_URL", None),
            database_url=read_database_url(env),
            rate_limit_per_10s=_int(env, "HUBSPOT_RATE_LIMIT_PER_10S", 100),
            search_rate_per_s=_float(env, "HUBSPOT_SEARCH_RATE_PER_S", 4.0),
            dashboard_token=env.get("DASHBOARD_TOKEN", "").strip() or None,
            workflow_webhook_key=env.get("WORKFLOW_WEBHOOK_KEY", "").strip() or None,
            sync_interval_minutes=_int(env, "SYNC_INTERVAL_MINUTES", 10),
            mapping_path=Path(env.get("CONNECTOR_MAPPING", "").strip() or cls.mapping_path),
            properties_path=Path(
                env.get("CONNECTOR_PROPERTIES", "").strip() or cls.properties_path
            ),
            program_path=Path(env.get("CONNECTOR_PROGRAM", "").strip() or cls.program_path),
            log_format=log_format,
            dashboard_session_hours=_float(env, "DASHBOARD_SESSION_HOURS", 8.0),
            trusted_proxy_hops=_int(env, "TRUSTED_PROXY_HOPS", 0, minimum=0),
            port=_int(env, "PORT", 8000),
            prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR", "").strip() or None,
            metrics_port=_port(env, "METRICS_PORT"),
            db_pre_ping=_bool(env, "CONNECTOR_DB_PRE_PING", True),
            tremendous_api_key=env.get("TREMENDOUS_API_KEY", "").strip() or None,
            tremendous_base_url=_url(env, "TREMENDOUS_BASE_URL", None)
            or cls.tremendous_base_url,
            calibration_window_days=_int(env, "CALIBRATION_WINDOW_DAYS", 30),
        )

    def require_token(self) -> str:
        """The private app's access token, or a ConfigError naming the variable."""
        if not self.hubspot_access_token:
            raise ConfigError(
                "HUBSPOT_ACCESS_TOKEN is not set; set it to your app's static access token "
                "(the app's Auth tab in HubSpot)"
            )
        return self.hubspot_access_token

    def require_client_secret(self) -> str:
        """The private app's client secret, used to verify webhook signatures."""
        if not self.hubspot_client_secret:
            raise ConfigError(
                "HUBSPOT_CLIENT_SECRET is not set; set it to your app's client secret "
                "(the app's Auth tab in HubSpot)"
            )
        return self.hubspot_client_secret


    def visitor_key(self) -> bytes | None:
        """The key of the share links' visitor hashes: an HMAC of the client secret, so every
        web process of one deployment derives the same key with no new variable to share,
        and the secret itself never reaches the hash. None without a client secret."""
        if not self.hubspot_client_secret:
            return None
        return hmac.new(self.hubspot_client_secret.encode(),
                        b"advocate-connector: share-link visitors", hashlib.sha256).digest()


def redact_url(url: str) -> str:
    """A database URL with its password replaced, safe for logs."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
