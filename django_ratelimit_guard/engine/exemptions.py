"""Exemptions: ``exempt_ips`` and ``skip_if`` (issue #15).

``plan.plan`` asks :func:`exempt` about a policy only when the policy is ``screened`` (it has
either field), so a policy without them pays one attribute check. An exempted request is not
planned for that policy: no counter is read or written (no Redis call at all when every policy
exempts it) and no header field is set for it.

``exempt_ips`` are matched against the client's own address as ``CLIENT_IP`` finds it (behind
trusted proxies, the real client; the address itself, not its IPV4/IPV6_PREFIX bucket). A
``skip_if`` that raises is logged (``callbacks.py``: not one line per request) and the policy
applies (fail safe): never a 500.
"""

from __future__ import annotations

import functools

from django.http import HttpRequest

from django_ratelimit_guard.conf.settings import on_reload
from django_ratelimit_guard.core.keys import (
    CACHED_HEADER_LENGTH,
    ClientIPSettings,
    IPNetwork,
    address_from,
)
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.engine import callbacks


def _in_networks(address: object, networks: tuple[IPNetwork, ...]) -> bool:
    return any(
        address.version == net.version and address in net  # type: ignore[attr-defined]
        for net in networks
    )


def _match(
    remote: str, forwarded: str, config: ClientIPSettings, networks: tuple[IPNetwork, ...]
) -> bool:
    address = address_from(remote, forwarded, config)
    return address is not None and _in_networks(address, networks)


#: Pure in its arguments and the costliest step (parsing addresses), so cached as ``client_ip``'s
#: buckets are; a forwarded chain longer than ``CACHED_HEADER_LENGTH`` is never pinned in it.
_cached_match = functools.lru_cache(maxsize=4096)(_match)


@on_reload
def _forget() -> None:
    _cached_match.cache_clear()


def exempt(policy: Policy, request: HttpRequest, client_ip: ClientIPSettings) -> bool:
    """Whether ``policy`` does not apply to ``request`` (its client is exempt, or skip_if)."""
    if policy.exempt_ips:
        meta = request.META
        remote = str(meta.get("REMOTE_ADDR") or "")
        header = meta.get(client_ip.header) if client_ip.trusted_proxies else None
        forwarded = str(header or "")
        match = _match if len(remote) + len(forwarded) > CACHED_HEADER_LENGTH else _cached_match
        if match(remote, forwarded, client_ip, policy.exempt_ips):
            return True
    skip_if = policy.skip_if
    if skip_if is None:
        return False
    try:
        return bool(skip_if(request))
    except Exception as exc:
        callbacks.report_failure(policy.name, "skip_if", exc, "the policy applies")
        return False


__all__ = ["exempt"]
