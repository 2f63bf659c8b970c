"""Read replicas: opted-in, read-only dashboard reads may be served by the "replica" database alias.

Configured by TRIALDESK_REPLICA_DATABASE_URL (see docs/deployment.md). Without it every read goes to
the primary and nothing here has any effect.

The rules (each one keeps a user from seeing data older than what they just did, or from being let in
by data the primary has already changed):

* Only code inside `replica_reads()` (a context manager and decorator; dashboard selectors use it) reads
  from the replica. Everything else, including every service, reads from the primary.
* Writes always go to the primary (`db_for_write` does not route; Django's default is the primary).
* Once a request has written (or is an unsafe HTTP method: POST, PUT, PATCH, DELETE), its later reads
  go to the primary: reads after writes in a request see those writes.
* After a request that wrote, `ReplicaMiddleware` pins the browser to the primary for
  `REPLICA_PIN_SECONDS` (a cookie), so the page after a redirect does not show the replica's lag.
* Reads inside a transaction on the primary stay on the primary (a transaction reads its own writes).
* Accounts, memberships, sessions, lockouts and the cache table are always read from the primary: a
  revoked role or a logout takes effect at once on every app server.
"""

from __future__ import annotations

import contextvars
import functools
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
PIN_COOKIE = "td_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Apps whose tables decide who may do what (or hold sessions and cache entries): never read from a replica.
PRIMARY_ONLY_APPS = frozenset({"accounts", "auth", "sessions", "axes", "contenttypes", "admin", "django_cache"})
# Tables whose writes are bookkeeping, not data a later read in the request could miss on the replica.
NOT_DATA_APPS = frozenset({"sessions", "django_cache"})


@dataclass
class _Scope:
    """What one request (or one `replica_reads` block outside a request) has done so far."""

    primary: bool = False  # unsafe method, or pinned after a recent write: read the primary throughout
    wrote: bool = False    # a write was routed in this scope


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("trialdesk_replica_scope", default=None)
_reading: contextvars.ContextVar[bool] = contextvars.ContextVar("trialdesk_replica_reading", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def _in_transaction() -> bool:
    # Atomic blocks opened by Django's TestCase wrap whole tests; like Django's durable check, ignore them.
    return any(not getattr(block, "_from_testcase", False) for block in connections[DEFAULT_DB_ALIAS].atomic_blocks)


def read_alias() -> str:
    """The alias that a read made now should use: the replica only inside `replica_reads()` and only while
    no write has happened in this request (or block) and no transaction is open on the primary."""
    if not _reading.get() or not replica_configured():
        return DEFAULT_DB_ALIAS
    scope = _scope.get()
    if (scope is not None and (scope.primary or scope.wrote)) or _in_transaction():
        return DEFAULT_DB_ALIAS
    return REPLICA


def mark_write() -> None:
    scope = _scope.get()
    if scope is not None:
        scope.wrote = True


class replica_reads:  # noqa: N801 - used like contextlib's lower-case context managers
    """`with replica_reads():` or `@replica_reads` on a read-only selector or view.

    Use it only where a few seconds of replication lag are acceptable (dashboards, portfolio, history
    lists). Querysets created inside and evaluated later follow `read_alias()` at evaluation time, so wrap
    the code that evaluates them (a view that renders its template inside the block) or return lists.
    """

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with replica_reads():
                return func(*args, **kwargs)

        return wrapper

    def __enter__(self):
        self._reading_token = _reading.set(True)
        # Outside a request (commands, tests), the block is its own scope for read-after-write.
        self._scope_token = _scope.set(_Scope()) if _scope.get() is None else None
        return self

    def __exit__(self, *exc):
        if self._scope_token is not None:
            _scope.reset(self._scope_token)
        _reading.reset(self._reading_token)
        return False


class ReplicaRouter:
    """Routes reads inside `replica_reads()` to the replica; notes writes; never migrates the replica."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return DEFAULT_DB_ALIAS
        if hints.get("instance") is not None:
            return None  # related objects follow the instance they hang off (Django's default)
        alias = read_alias()
        return alias if alias == REPLICA else None

    def db_for_write(self, model, **hints):
        # Saving a cache entry or the session is not a change the rest of the request could read back from
        # the replica; any other write is.
        if model._meta.app_label not in NOT_DATA_APPS:
            mark_write()
        return None  # Django's default: the primary (or the instance's own database)

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the same rows as the primary: an object read from one may point at the other's.
        pair = {obj1._state.db or DEFAULT_DB_ALIAS, obj2._state.db or DEFAULT_DB_ALIAS}
        return True if pair <= {DEFAULT_DB_ALIAS, REPLICA} else None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None


class ReplicaMiddleware:
    """Opens the request's read-after-write scope and pins a browser that just wrote to the primary."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        unsafe = request.method not in SAFE_METHODS
        scope = _Scope(primary=unsafe or PIN_COOKIE in request.COOKIES)
        token = _scope.set(scope)
        try:
            response = self.get_response(request)
        finally:
            _scope.reset(token)
        pin_seconds = getattr(settings, "REPLICA_PIN_SECONDS", 0)
        # Only unsafe requests pin: every GET "writes" its session (saved on each request for the idle timeout).
        if unsafe and scope.wrote and pin_seconds and replica_configured():
            response.set_cookie(PIN_COOKIE, "1", max_age=pin_seconds, httponly=True, samesite="Lax",
                                secure=request.is_secure())
        return response
