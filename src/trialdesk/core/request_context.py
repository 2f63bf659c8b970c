"""Per-request context (request id, client address) that the audit service records.

A contextvar rather than a thread-local, so it is correct under ASGI too.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip_address: str | None = None
    channel: str = "web"  # web | api | cli | system


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("trialdesk_request", default=None)


def current() -> RequestContext:
    ctx = _current.get()
    if ctx is None:
        return RequestContext(request_id=f"sys-{uuid.uuid4()}", channel="system")
    return ctx


def activate(ctx: RequestContext):
    return _current.set(ctx)


def reset(token) -> None:
    _current.reset(token)


class use_context:
    """Context manager for commands: `with use_context(channel="cli"):`."""

    def __init__(self, *, channel: str, request_id: str | None = None):
        self.ctx = RequestContext(request_id=request_id or f"{channel}-{uuid.uuid4()}", channel=channel)

    def __enter__(self):
        self.token = activate(self.ctx)
        return self.ctx

    def __exit__(self, *exc):
        reset(self.token)
        return False
