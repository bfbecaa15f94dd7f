"""Key values typed by an operator, validated for the policy's key kind.

``manage.py ratelimit_guard reset-key``, the admin's reset-client form, ``override add`` and the
override admin all take the raw value a policy's key yields (the client address for ``"ip"``,
``"user:42"`` for ``"user_or_ip"``...). :func:`normalize_key_value` turns it into exactly the
value ``core/keys.py`` produces for that client — an ``"ip"`` policy gets the parsed, normalized,
prefix-masked address, the same bucket ``client_ip`` puts the client in — or raises
``ValueError`` saying what was expected. So a typo is an error, never a command that "resets" a
counter nobody has.
"""

from __future__ import annotations

import ipaddress

from django_ratelimit_guard.core.keys import (
    UNKNOWN_IP,
    ClientIPSettings,
    KeySpec,
    address_bucket,
    parse_ip,
)

MAX_KEY_VALUE = 512


def normalize_ip(value: str, config: ClientIPSettings) -> str:
    """An address (``203.0.113.7``, ``[2001:db8::1]:443``) or a network of exactly the bucket's
    prefix (``2001:db8::/64`` when ``IPV6_PREFIX`` is 64) → the client's bucket."""
    text = value.strip()
    if text == UNKNOWN_IP:
        return UNKNOWN_IP  # the bucket of requests without a usable REMOTE_ADDR
    address = parse_ip(text)
    if address is not None:
        return address_bucket(address, config)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address: expected e.g. '203.0.113.7' or '2001:db8::1'"
        ) from None
    prefix = config.ipv4_prefix if network.version == 4 else config.ipv6_prefix
    if network.prefixlen != prefix:
        raise ValueError(
            f"{value!r} is a /{network.prefixlen} network, but clients are counted per "
            f"/{prefix} (CLIENT_IP['IPV{network.version}_PREFIX']): give an address or a /{prefix}"
        )
    return address_bucket(network.network_address, config)


def normalize_key_value(key: KeySpec, value: str, config: ClientIPSettings) -> str:
    """``value`` as the policy's key function would yield it for that client, or ``ValueError``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("the key value is empty")
    if len(value) > MAX_KEY_VALUE or not value.isprintable():
        raise ValueError(f"the key value must be 1 to {MAX_KEY_VALUE} printable characters")
    spec = key.spec
    if spec == "ip":
        return normalize_ip(value, config)
    if spec == "user_or_ip":
        kind, sep, rest = value.strip().partition(":")
        if sep and kind == "user" and rest:
            return f"user:{rest}"
        if sep and kind == "ip" and rest:
            return f"ip:{normalize_ip(rest, config)}"
        if parse_ip(value) is not None:  # a bare address: the anonymous client's key
            return f"ip:{normalize_ip(value, config)}"
        raise ValueError(
            f"{value!r}: a 'user_or_ip' key is 'user:<id>' (signed-in users) or 'ip:<address>'"
        )
    if spec == "user":
        return value.strip()
    if spec == "api_key":
        text = value.strip()
        if len(text) > 64 or not all(c.isascii() and (c.isalnum() or c in "_-.") for c in text):
            raise ValueError(f"{value!r} is not a signing key id (1-64 of [A-Za-z0-9_.-])")
        return text
    # header:, param: and callables: the value is whatever the client sent or the function
    # returned, taken as it is (no stripping: "a" and " a" are different clients there).
    return value


__all__ = ["MAX_KEY_VALUE", "normalize_ip", "normalize_key_value"]
