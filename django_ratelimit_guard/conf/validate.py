"""Validators of the ``RATELIMIT_GUARD`` sections. Each collects :class:`Problem` objects (every
problem, not just the first) and returns the section's value with defaults where a value was bad,
so that one run reports everything. ``settings.build_settings`` calls them in order.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from django.utils.module_loading import import_string

from django_ratelimit_guard.conf.sections import (
    BreakerSettings,
    ClientIPSettings,
    MetricsSettings,
    ResponseSettings,
    SigningSettings,
)
from django_ratelimit_guard.core.keys import IPNetwork
from django_ratelimit_guard.core.problems import Problem, error


def coerce_env(text: str, kind: type) -> object:
    text = text.strip()
    if kind is bool:
        lowered = text.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(text)
    if kind is int:
        return int(text, 10)
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def tuning(
    section: str,
    raw: object,
    bounds: Mapping[str, tuple[type, float, float]],
    problems: list[Problem],
    code: int,
) -> dict[str, Any]:
    """Validate BREAKER / FALLBACK: dict values, overridden by RATELIMIT_GUARD_<SECTION>_<KEY>."""
    values: dict[str, Any] = {}
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.append(error(code, f"RATELIMIT_GUARD[{section!r}] must be a dict."))
        raw = {}
    for key in sorted(set(raw) - set(bounds)):
        problems.append(
            error(
                code,
                f"RATELIMIT_GUARD[{section!r}] has unknown key {key!r}.",
                f"Known keys: {', '.join(bounds)}.",
            )
        )
    for key, (kind, low, high) in bounds.items():
        env_name = f"RATELIMIT_GUARD_{section}_{key}"
        source = f"RATELIMIT_GUARD[{section!r}][{key!r}]"
        value: object = raw.get(key)
        if env_name in os.environ:
            source = f"the environment variable {env_name}"
            try:
                value = coerce_env(os.environ[env_name], kind)
            except ValueError:
                problems.append(
                    error(code, f"{source} is {os.environ[env_name]!r}: expected {kind.__name__}.")
                )
                continue
        if value is None:
            continue
        ok_type = (
            isinstance(value, bool)
            if kind is bool
            else (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and (kind is float or isinstance(value, int))
            )
        )
        if not ok_type:
            problems.append(error(code, f"{source} is {value!r}: expected {kind.__name__}."))
            continue
        if kind is not bool and not low <= value <= high:  # type: ignore[operator]
            problems.append(error(code, f"{source} is {value!r}: expected {low:g} to {high:g}."))
            continue
        values[key.lower()] = kind(value)
    if "max_reset_timeout" in values or "reset_timeout" in values:
        reset = values.get("reset_timeout", BreakerSettings.reset_timeout)
        top = values.get("max_reset_timeout", BreakerSettings.max_reset_timeout)
        if section == "BREAKER" and top < reset:
            problems.append(error(code, "BREAKER MAX_RESET_TIMEOUT is below RESET_TIMEOUT."))
    return values


def networks(
    value: object, where: str, problems: list[Problem], code: int
) -> tuple[IPNetwork, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        problems.append(error(code, f"{where} must be a list of CIDRs such as '10.0.0.0/8'."))
        return ()
    networks: list[IPNetwork] = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            problems.append(
                error(code, f"{where} has {item!r}, which is not a CIDR such as '10.0.0.0/8'.")
            )
    return tuple(networks)


def known_section(
    raw: Mapping[str, Any], name: str, known: set[str], problems: list[Problem], code: int
) -> Mapping[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(error(code, f"RATELIMIT_GUARD[{name!r}] must be a dict."))
        return {}
    for key in sorted(set(value) - known):
        problems.append(
            error(
                code,
                f"RATELIMIT_GUARD[{name!r}] has unknown key {key!r}.",
                f"Known keys: {', '.join(sorted(known))}.",
            )
        )
    return value


def client_ip_settings(raw: Mapping[str, Any], problems: list[Problem]) -> ClientIPSettings:
    section = known_section(
        raw, "CLIENT_IP", {"TRUSTED_PROXIES", "HEADER", "IPV4_PREFIX", "IPV6_PREFIX"}, problems, 10
    )
    trusted = networks(
        section.get("TRUSTED_PROXIES"),
        "RATELIMIT_GUARD['CLIENT_IP']['TRUSTED_PROXIES']",
        problems,
        10,
    )
    header = section.get("HEADER", ClientIPSettings.header)
    if not isinstance(header, str) or not header:
        problems.append(
            error(
                10,
                "RATELIMIT_GUARD['CLIENT_IP']['HEADER'] must be a META key such as "
                "'HTTP_X_FORWARDED_FOR'.",
            )
        )
        header = ClientIPSettings.header
    prefixes = {}
    for key, top in (("IPV4_PREFIX", 32), ("IPV6_PREFIX", 128)):
        value = section.get(key, getattr(ClientIPSettings, key.lower()))
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            problems.append(
                error(
                    10, f"RATELIMIT_GUARD['CLIENT_IP'][{key!r}] is {value!r}: expected 1 to {top}."
                )
            )
            value = getattr(ClientIPSettings, key.lower())
        prefixes[key.lower()] = value
    return ClientIPSettings(trusted, header, **prefixes)


def response_settings(raw: Mapping[str, Any], problems: list[Problem]) -> ResponseSettings:
    section = known_section(raw, "RESPONSE", {"STATUS", "HEADERS", "VIEW"}, problems, 13)
    status = section.get("STATUS", 429)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        problems.append(
            error(
                13,
                f"RATELIMIT_GUARD['RESPONSE']['STATUS'] is {status!r}: "
                "expected a 4xx or 5xx status.",
            )
        )
        status = 429
    headers = section.get("HEADERS", True)
    if not isinstance(headers, bool):
        problems.append(
            error(
                13,
                f"RATELIMIT_GUARD['RESPONSE']['HEADERS'] is {headers!r}: expected True or False.",
            )
        )
        headers = True
    view = None
    if section.get("VIEW") is not None:
        path = section["VIEW"]
        try:
            view = import_string(path) if isinstance(path, str) else None
        except ImportError as exc:
            problems.append(
                error(
                    13, f"RATELIMIT_GUARD['RESPONSE']['VIEW'] {path!r} could not be imported: {exc}"
                )
            )
        else:
            if not callable(view):
                problems.append(
                    error(
                        13,
                        "RATELIMIT_GUARD['RESPONSE']['VIEW'] must be a dotted path to a view "
                        "(request, exception).",
                    )
                )
                view = None
    return ResponseSettings(status, headers, view)


def signing_settings(raw: Mapping[str, Any], problems: list[Problem]) -> SigningSettings:
    section = known_section(
        raw,
        "SIGNING",
        {"KEYS", "PATHS", "EXEMPT_PATHS", "MAX_SKEW_SECONDS", "FAIL_MODE"},
        problems,
        20,
    )
    keys: dict[str, tuple[bytes, ...]] = {}
    raw_keys = section.get("KEYS") or {}
    if not isinstance(raw_keys, Mapping):
        problems.append(
            error(
                20, "RATELIMIT_GUARD['SIGNING']['KEYS'] must be a dict: key id -> list of secrets."
            )
        )
        raw_keys = {}
    seen: dict[bytes, str] = {}
    for key_id, secrets in raw_keys.items():
        where = f"RATELIMIT_GUARD['SIGNING']['KEYS'][{key_id!r}]"
        if (
            not isinstance(key_id, str)
            or not key_id
            or len(key_id) > 64
            or not all(c.isascii() and (c.isalnum() or c in "_-.") for c in key_id)
        ):
            problems.append(
                error(20, f"The signing key id {key_id!r} must be 1-64 of [A-Za-z0-9_.-].")
            )
            continue
        if isinstance(secrets, str):
            secrets = [secrets]
        if not isinstance(secrets, (list, tuple)) or not secrets:
            problems.append(error(20, f"{where} must be a non-empty list of secrets."))
            continue
        encoded: list[bytes] = []
        for index, secret in enumerate(secrets):
            if not isinstance(secret, str):
                problems.append(error(20, f"{where}[{index}] is not a string."))
                continue
            data = secret.encode("utf-8")
            if len(data) < 32:
                problems.append(
                    error(
                        21,
                        f"{where}[{index}] is {len(data)} bytes long: "
                        "secrets must be at least 32 bytes.",
                        "Generate one with: "
                        "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
                    )
                )
            if data in seen:
                problems.append(
                    error(
                        22,
                        f"{where}[{index}] repeats a secret of key {seen[data]!r}: "
                        "every secret must be unique.",
                    )
                )
            seen.setdefault(data, str(key_id))
            encoded.append(data)
        keys[key_id] = tuple(encoded)
    paths = _path_list(section, "PATHS", ("/api/",), problems)
    exempt = _path_list(section, "EXEMPT_PATHS", ("/health",), problems)
    skew = section.get("MAX_SKEW_SECONDS", 60)
    if not isinstance(skew, int) or isinstance(skew, bool) or not 5 <= skew <= 300:
        problems.append(
            error(
                23,
                f"RATELIMIT_GUARD['SIGNING']['MAX_SKEW_SECONDS'] is {skew!r}: "
                "expected 5 to 300 seconds.",
            )
        )
        skew = 60
    fail_mode = section.get("FAIL_MODE", "closed")
    if fail_mode not in ("closed", "memory"):
        problems.append(
            error(
                24,
                f"RATELIMIT_GUARD['SIGNING']['FAIL_MODE'] is {fail_mode!r}: "
                "expected 'closed' or 'memory'.",
            )
        )
        fail_mode = "closed"
    return SigningSettings(keys, paths, exempt, skew, fail_mode)


def _path_list(
    section: Mapping[str, Any], key: str, default: tuple[str, ...], problems: list[Problem]
) -> tuple[str, ...]:
    value = section.get(key, default)
    if (
        isinstance(value, str)
        or not isinstance(value, (list, tuple))
        or not all(isinstance(p, str) and p.startswith("/") for p in value)
    ):
        problems.append(
            error(
                20,
                f"RATELIMIT_GUARD['SIGNING'][{key!r}] must be a list of path prefixes "
                "starting with '/'.",
            )
        )
        return default
    return tuple(value)


def metrics_settings(raw: Mapping[str, Any], problems: list[Problem]) -> MetricsSettings:
    section = known_section(raw, "METRICS", {"ALLOWED_CIDRS", "BEARER_TOKEN"}, problems, 30)
    cidrs = networks(
        section.get("ALLOWED_CIDRS", ["127.0.0.1/32", "::1/128"]),
        "RATELIMIT_GUARD['METRICS']['ALLOWED_CIDRS']",
        problems,
        30,
    )
    token = section.get("BEARER_TOKEN")
    if token is not None and (not isinstance(token, str) or len(token) < 16 or not token.isascii()):
        problems.append(
            error(
                30,
                "RATELIMIT_GUARD['METRICS']['BEARER_TOKEN'] must be an ASCII string of at least "
                "16 characters.",
            )
        )
        token = None
    return MetricsSettings(cidrs, token)
