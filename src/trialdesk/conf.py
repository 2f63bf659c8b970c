"""Typed helpers that read TRIALDESK_* environment variables.

Every helper refuses a bad value with a message naming the variable, so a
misconfigured deployment fails at start-up instead of misbehaving later.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse, urlunparse


class ConfigError(Exception):
    """A TRIALDESK_* variable holds a value we cannot use."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, environ=None) -> str | None:
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False, *, environ=None) -> bool:
    raw = env_str(name, None, environ=environ)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None,
            environ=None) -> int:
    raw = env_str(name, None, environ=environ)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the maximum {maximum}")
    return value


def env_list(name: str, default: list[str], *, environ=None) -> list[str]:
    raw = env_str(name, None, environ=environ)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path, *, environ=None) -> Path:
    raw = env_str(name, None, environ=environ)
    if raw is None or not raw.strip():
        return default
    return Path(raw).expanduser().resolve()


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str], *, name: str = "TRIALDESK_TRUSTED_PROXIES") -> tuple[Network, ...]:
    """IP addresses or networks (10.0.0.5, 10.0.0.0/24, fd00::/8)."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {value!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
                              ) from None
    return tuple(networks)


def parse_database_url(url: str, *, name: str = "TRIALDESK_DATABASE_URL") -> dict:
    """Turn sqlite:///path or postgres://user:pw@host:port/db?opt=v into a Django DATABASES entry."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif path.startswith("/"):
            path = path[1:]
        if not path:
            raise ConfigError(f"{name}={url!r} has no database file path (use sqlite:///relative.db or "
                              "sqlite:////absolute/path.db)")
        return sqlite_database(Path(path))
    if scheme in {"postgres", "postgresql", "pgsql"}:
        db_name = unquote(parsed.path.lstrip("/"))
        if not db_name:
            raise ConfigError(f"{name}={url!r} names no database (postgres://user@host:5432/dbname)")
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        try:
            port = parsed.port
        except ValueError:
            raise ConfigError(f"{name}={url!r} has an invalid port") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db_name,
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "ATOMIC_REQUESTS": False,
        }
    raise ConfigError(f"{name}={url!r}: unsupported scheme {scheme!r}; use sqlite:/// or postgres://")


def replica_database(url: str, primary: dict, *, name: str = "TRIALDESK_REPLICA_DATABASE_URL") -> dict:
    """A read replica of the primary database: same engine, never migrated, mirrored in tests.

    TEST MIRROR makes the test runner point this alias at the primary's test database instead of
    creating a second one: in tests the "replica" is the primary seen through another connection.
    """
    replica = parse_database_url(url, name=name)
    if replica["ENGINE"] != primary["ENGINE"]:
        raise ConfigError(f"{name} must use the same database engine as TRIALDESK_DATABASE_URL "
                          f"({primary['ENGINE'].rsplit('.', 1)[-1]}), not {replica['ENGINE'].rsplit('.', 1)[-1]}")
    replica["TEST"] = {"MIRROR": "default"}
    return replica


DEFAULT_CACHE_URL = "db://trialdesk_cache"
CACHE_MAX_ENTRIES = 10_000


def parse_cache_url(url: str, *, name: str = "TRIALDESK_CACHE_URL") -> dict:
    """Turn a cache URL into a Django CACHES entry.

    db://table           DatabaseCache in the primary database (the default; shared by every app server)
    redis://host:6379/0  RedisCache (rediss:// for TLS; needs the `redis` package)
    memcached://h1:11211,h2:11211  PyMemcacheCache (needs the `pymemcache` package)
    file:///abs/dir      FileBasedCache (shared only by the processes of one machine)
    locmem://            per-process memory (one process only: development)
    dummy://             no caching
    Query options: ?timeout=SECONDS&key_prefix=TEXT
    """
    parsed = urlparse(url.strip())
    scheme = parsed.scheme.lower()
    options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    unknown = set(options) - {"timeout", "key_prefix"}
    if unknown:
        raise ConfigError(f"{name}={url!r}: unknown option(s) {', '.join(sorted(unknown))}; "
                          "use timeout and key_prefix")
    entry: dict = {}
    if scheme in {"db", "database"}:
        table = (parsed.netloc + parsed.path).strip("/") or "trialdesk_cache"
        if not table.replace("_", "").isalnum():
            raise ConfigError(f"{name}={url!r}: the table name may hold only letters, digits and _")
        # Room for two dashboard entries (loaded data, forecast) per study of a 1,000-study portfolio; Django's
        # default of 300 would cull a third of the table whenever it is reached.
        entry = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": table,
                 "OPTIONS": {"MAX_ENTRIES": CACHE_MAX_ENTRIES}}
    elif scheme in {"redis", "rediss"}:
        _require_module("redis", name, url)
        entry = {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                 "LOCATION": urlunparse(parsed._replace(query=""))}
    elif scheme in {"memcached", "pymemcache"}:
        _require_module("pymemcache", name, url)
        hosts = [h for h in parsed.netloc.split(",") if h]
        if not hosts:
            raise ConfigError(f"{name}={url!r} names no server (memcached://host:11211)")
        entry = {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": hosts}
    elif scheme == "file":
        path = unquote(parsed.path)
        if parsed.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ConfigError(f"{name}={url!r}: use an absolute directory, file:///var/cache/trialdesk")
        entry = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": path,
                 "OPTIONS": {"MAX_ENTRIES": CACHE_MAX_ENTRIES}}
    elif scheme == "locmem":
        entry = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "trialdesk"}
    elif scheme == "dummy":
        entry = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    else:
        raise ConfigError(f"{name}={url!r}: unsupported scheme {scheme!r}; use db://, redis://, memcached://, "
                          "file://, locmem:// or dummy://")
    if "timeout" in options:
        try:
            timeout = int(options["timeout"])
        except ValueError:
            raise ConfigError(f"{name}={url!r}: timeout must be a whole number of seconds") from None
        if timeout < 1:
            raise ConfigError(f"{name}={url!r}: timeout must be at least 1 second")
        entry["TIMEOUT"] = timeout
    if options.get("key_prefix"):
        entry["KEY_PREFIX"] = options["key_prefix"]
    return entry


def cache_is_shared(entry: dict) -> bool:
    """False for caches that live in one process's memory (each app server would see its own)."""
    return not entry["BACKEND"].endswith((".LocMemCache",))


def _require_module(module: str, name: str, url: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{name}={url!r} needs the Python package {module!r}: pip install {module}")


def sqlite_database(path: Path) -> dict:
    # WAL lets readers proceed while one writer commits; busy timeout makes a
    # second writer wait instead of failing with "database is locked"; IMMEDIATE
    # transactions take the write lock at BEGIN so no deadlock between upgraders.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;"
                "PRAGMA foreign_keys=ON;"
            ),
        },
    }
