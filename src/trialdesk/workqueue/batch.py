"""A cache that providers may share between users while one batch job (the daily reminders) runs. Pure.

Outside `batch()` there is no shared cache and `shared(...)` returns None: a web request computes its own
items. Inside, a provider can keep a result that does not depend on who asks (e.g. a study's enrollment
forecast for users who see the whole study) and reuse it for the next user.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_cache: contextvars.ContextVar[dict | None] = contextvars.ContextVar("trialdesk_workqueue_batch", default=None)


@contextlib.contextmanager
def batch() -> Iterator[None]:
    token = _cache.set({})
    try:
        yield
    finally:
        _cache.reset(token)


def shared(namespace: str) -> dict | None:
    """The batch's dict for `namespace` (e.g. "enrollment"), or None outside a batch."""
    cache = _cache.get()
    return None if cache is None else cache.setdefault(namespace, {})
