"""The client's address behind a reverse proxy or load balancer (TRIALDESK_TRUSTED_PROXIES).

Behind nginx or a load balancer, every request arrives from the proxy's address. When the direct peer is one
of the trusted proxies, the client is the right-most address in X-Forwarded-For that is not itself a trusted
proxy; REMOTE_ADDR is replaced by it, so the audit trail, lockout records and logs name the real client. From
any other peer the header is ignored (a client could write anything in it).

(The scheme, http or https, is taken from X-Forwarded-Proto by gunicorn itself for the addresses in
TRIALDESK_FORWARDED_ALLOW_IPS; see deploy/gunicorn.conf.py.)
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

from trialdesk.conf import Network, parse_networks


@functools.lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(list(values))


def _address(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return address is not None and any(address in net for net in networks)


def client_address(remote_addr: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The client's address: REMOTE_ADDR, or, from a trusted proxy, the last untrusted hop it reports."""
    if not trusted or not forwarded_for or not _trusted(_address(remote_addr), trusted):
        return remote_addr
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = _address(hop)
        if address is None:
            return remote_addr  # a malformed chain: keep the proxy's address rather than guess
        if not _trusted(address, trusted):
            return str(address)
    return remote_addr


class TrustedProxyMiddleware:
    """First in MIDDLEWARE: REMOTE_ADDR becomes the client's address when a trusted proxy forwarded the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        values = tuple(getattr(settings, "TRUSTED_PROXIES", ()))
        if values:
            meta = request.META
            meta["REMOTE_ADDR"] = client_address(meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", ""),
                                                 _networks(values))
        return self.get_response(request)
