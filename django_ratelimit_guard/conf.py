"""``RATELIMIT_GUARD``: one settings dict, validated whole, frozen, cached, rebuilt on change.

``guard_settings()`` builds :class:`GuardSettings` once and raises :class:`ConfigError` listing
*every* problem. ``apps.py`` turns that into ``ImproperlyConfigured`` at startup (WSGI servers
never run system checks) and ``checks.py`` into ``ratelimit_guard.E###`` messages.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from django_ratelimit_guard.checks_registry import Problem, error
from django_ratelimit_guard.exceptions import ConfigError
from django_ratelimit_guard.keys import IPNetwork
from django_ratelimit_guard.policies import FailMode, Policy, build_policy

TOP_LEVEL_KEYS = frozenset(
    {
        "ENABLED", "CACHE_ALIAS", "KEY_PREFIX", "POLICIES", "DEFAULT_FAIL_MODE", "CLIENT_IP",
        "BREAKER", "FALLBACK", "RESPONSE", "SIGNING", "METRICS", "CONTROL",
    }
)
REDIS_BACKEND = "django_redis.cache.RedisCache"


@dataclass(frozen=True)
class ClientIPSettings:
    trusted_proxies: tuple[IPNetwork, ...] = ()
    header: str = "HTTP_X_FORWARDED_FOR"
    ipv4_prefix: int = 32
    ipv6_prefix: int = 64


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int = 5
    failure_rate: float = 0.5
    min_calls: int = 20
    window_seconds: float = 10.0
    slow_call_seconds: float = 0.1
    reset_timeout: float = 5.0
    max_reset_timeout: float = 60.0
    backoff_multiplier: float = 2.0
    jitter: float = 0.5
    half_open_requests: int = 1
    success_threshold: int = 2


@dataclass(frozen=True)
class FallbackSettings:
    max_entries: int = 50_000
    warn_ratio: float = 0.8
    workers: int = 1
    reconcile: bool = True


@dataclass(frozen=True)
class ResponseSettings:
    status: int = 429
    headers: bool = True
    view: Callable[[HttpRequest, Exception], HttpResponse] | None = None


@dataclass(frozen=True)
class SigningSettings:
    keys: Mapping[str, tuple[bytes, ...]]
    paths: tuple[str, ...] = ("/api/",)
    exempt_paths: tuple[str, ...] = ("/health",)
    max_skew_seconds: int = 60
    fail_mode: str = "closed"


@dataclass(frozen=True)
class MetricsSettings:
    allowed_cidrs: tuple[IPNetwork, ...]
    bearer_token: str | None = None


@dataclass(frozen=True)
class ControlSettings:
    """The fleet control channel (``fleet.py``): how often a busy process looks for commands."""

    poll_seconds: float = 2.0  # 0: no background poll (commands apply only where issued)
    keep_commands: int = 200


@dataclass(frozen=True)
class GuardSettings:
    enabled: bool
    cache_alias: str
    key_prefix: str
    policies: Mapping[str, Policy]
    default_fail_mode: FailMode
    client_ip: ClientIPSettings
    breaker: BreakerSettings
    fallback: FallbackSettings
    response: ResponseSettings
    signing: SigningSettings
    metrics: MetricsSettings
    # Derived once: policies the middleware applies by path, and the key-hashing secret.
    path_policies: tuple[Policy, ...]
    key_secret: bytes
    control: ControlSettings = ControlSettings()


# Ranges of the numeric tuning values: (type, minimum, maximum).
BREAKER_BOUNDS: dict[str, tuple[type, float, float]] = {
    "FAILURE_THRESHOLD": (int, 1, 1000),
    "FAILURE_RATE": (float, 0.01, 1.0),
    "MIN_CALLS": (int, 1, 100_000),
    "WINDOW_SECONDS": (float, 0.1, 3600),
    "SLOW_CALL_SECONDS": (float, 0.001, 60),
    "RESET_TIMEOUT": (float, 0.01, 3600),
    "MAX_RESET_TIMEOUT": (float, 0.01, 86400),
    "BACKOFF_MULTIPLIER": (float, 1.0, 10.0),
    "JITTER": (float, 0.0, 1.0),
    "HALF_OPEN_REQUESTS": (int, 1, 1000),
    "SUCCESS_THRESHOLD": (int, 1, 1000),
}
FALLBACK_BOUNDS: dict[str, tuple[type, float, float]] = {
    "MAX_ENTRIES": (int, 100, 10_000_000),
    "WARN_RATIO": (float, 0.01, 1.0),
    "WORKERS": (int, 1, 10_000),
    "RECONCILE": (bool, 0, 1),
}

CONTROL_BOUNDS: dict[str, tuple[type, float, float]] = {
    "POLL_SECONDS": (float, 0.0, 300),
    "KEEP_COMMANDS": (int, 10, 100_000),
}


def _coerce_env(text: str, kind: type) -> object:
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


def _tuning(
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
            error(code, f"RATELIMIT_GUARD[{section!r}] has unknown key {key!r}.", f"Known keys: {', '.join(bounds)}.")
        )
    for key, (kind, low, high) in bounds.items():
        env_name = f"RATELIMIT_GUARD_{section}_{key}"
        source = f"RATELIMIT_GUARD[{section!r}][{key!r}]"
        value: object = raw.get(key)
        if env_name in os.environ:
            source = f"the environment variable {env_name}"
            try:
                value = _coerce_env(os.environ[env_name], kind)
            except ValueError:
                problems.append(
                    error(code, f"{source} is {os.environ[env_name]!r}: expected {kind.__name__}.")
                )
                continue
        if value is None:
            continue
        ok_type = isinstance(value, bool) if kind is bool else (
            isinstance(value, (int, float)) and not isinstance(value, bool)
            and (kind is float or isinstance(value, int))
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


def _networks(value: object, where: str, problems: list[Problem], code: int) -> tuple[IPNetwork, ...]:
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
            problems.append(error(code, f"{where} has {item!r}, which is not a CIDR such as '10.0.0.0/8'."))
    return tuple(networks)


def _section(raw: Mapping[str, Any], name: str, known: set[str], problems: list[Problem], code: int) -> Mapping[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(error(code, f"RATELIMIT_GUARD[{name!r}] must be a dict."))
        return {}
    for key in sorted(set(value) - known):
        problems.append(error(code, f"RATELIMIT_GUARD[{name!r}] has unknown key {key!r}.", f"Known keys: {', '.join(sorted(known))}."))
    return value


def _client_ip(raw: Mapping[str, Any], problems: list[Problem]) -> ClientIPSettings:
    section = _section(raw, "CLIENT_IP", {"TRUSTED_PROXIES", "HEADER", "IPV4_PREFIX", "IPV6_PREFIX"}, problems, 10)
    trusted = _networks(section.get("TRUSTED_PROXIES"), "RATELIMIT_GUARD['CLIENT_IP']['TRUSTED_PROXIES']", problems, 10)
    header = section.get("HEADER", ClientIPSettings.header)
    if not isinstance(header, str) or not header:
        problems.append(error(10, "RATELIMIT_GUARD['CLIENT_IP']['HEADER'] must be a META key such as 'HTTP_X_FORWARDED_FOR'."))
        header = ClientIPSettings.header
    prefixes = {}
    for key, top in (("IPV4_PREFIX", 32), ("IPV6_PREFIX", 128)):
        value = section.get(key, getattr(ClientIPSettings, key.lower()))
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            problems.append(error(10, f"RATELIMIT_GUARD['CLIENT_IP'][{key!r}] is {value!r}: expected 1 to {top}."))
            value = getattr(ClientIPSettings, key.lower())
        prefixes[key.lower()] = value
    return ClientIPSettings(trusted, header, **prefixes)


def _response(raw: Mapping[str, Any], problems: list[Problem]) -> ResponseSettings:
    section = _section(raw, "RESPONSE", {"STATUS", "HEADERS", "VIEW"}, problems, 13)
    status = section.get("STATUS", 429)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        problems.append(error(13, f"RATELIMIT_GUARD['RESPONSE']['STATUS'] is {status!r}: expected a 4xx or 5xx status."))
        status = 429
    headers = section.get("HEADERS", True)
    if not isinstance(headers, bool):
        problems.append(error(13, f"RATELIMIT_GUARD['RESPONSE']['HEADERS'] is {headers!r}: expected True or False."))
        headers = True
    view = None
    if section.get("VIEW") is not None:
        path = section["VIEW"]
        try:
            view = import_string(path) if isinstance(path, str) else None
        except ImportError as exc:
            problems.append(error(13, f"RATELIMIT_GUARD['RESPONSE']['VIEW'] {path!r} could not be imported: {exc}"))
        else:
            if not callable(view):
                problems.append(error(13, "RATELIMIT_GUARD['RESPONSE']['VIEW'] must be a dotted path to a view (request, exception)."))
                view = None
    return ResponseSettings(status, headers, view)


def _signing(raw: Mapping[str, Any], problems: list[Problem]) -> SigningSettings:
    section = _section(raw, "SIGNING", {"KEYS", "PATHS", "EXEMPT_PATHS", "MAX_SKEW_SECONDS", "FAIL_MODE"}, problems, 20)
    keys: dict[str, tuple[bytes, ...]] = {}
    raw_keys = section.get("KEYS") or {}
    if not isinstance(raw_keys, Mapping):
        problems.append(error(20, "RATELIMIT_GUARD['SIGNING']['KEYS'] must be a dict: key id -> list of secrets."))
        raw_keys = {}
    seen: dict[bytes, str] = {}
    for key_id, secrets in raw_keys.items():
        where = f"RATELIMIT_GUARD['SIGNING']['KEYS'][{key_id!r}]"
        if not isinstance(key_id, str) or not key_id or len(key_id) > 64 or not all(
            c.isascii() and (c.isalnum() or c in "_-.") for c in key_id
        ):
            problems.append(error(20, f"The signing key id {key_id!r} must be 1-64 of [A-Za-z0-9_.-]."))
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
                    error(21, f"{where}[{index}] is {len(data)} bytes long: secrets must be at least 32 bytes.",
                          "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'")
                )
            if data in seen:
                problems.append(error(22, f"{where}[{index}] repeats a secret of key {seen[data]!r}: every secret must be unique."))
            seen.setdefault(data, str(key_id))
            encoded.append(data)
        keys[key_id] = tuple(encoded)
    paths = _path_list(section, "PATHS", ("/api/",), problems)
    exempt = _path_list(section, "EXEMPT_PATHS", ("/health",), problems)
    skew = section.get("MAX_SKEW_SECONDS", 60)
    if not isinstance(skew, int) or isinstance(skew, bool) or not 5 <= skew <= 300:
        problems.append(error(23, f"RATELIMIT_GUARD['SIGNING']['MAX_SKEW_SECONDS'] is {skew!r}: expected 5 to 300 seconds."))
        skew = 60
    fail_mode = section.get("FAIL_MODE", "closed")
    if fail_mode not in ("closed", "memory"):
        problems.append(error(24, f"RATELIMIT_GUARD['SIGNING']['FAIL_MODE'] is {fail_mode!r}: expected 'closed' or 'memory'."))
        fail_mode = "closed"
    return SigningSettings(keys, paths, exempt, skew, fail_mode)


def _path_list(section: Mapping[str, Any], key: str, default: tuple[str, ...], problems: list[Problem]) -> tuple[str, ...]:
    value = section.get(key, default)
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
        isinstance(p, str) and p.startswith("/") for p in value
    ):
        problems.append(error(20, f"RATELIMIT_GUARD['SIGNING'][{key!r}] must be a list of path prefixes starting with '/'."))
        return default
    return tuple(value)


def _metrics(raw: Mapping[str, Any], problems: list[Problem]) -> MetricsSettings:
    section = _section(raw, "METRICS", {"ALLOWED_CIDRS", "BEARER_TOKEN"}, problems, 30)
    cidrs = _networks(section.get("ALLOWED_CIDRS", ["127.0.0.1/32", "::1/128"]), "RATELIMIT_GUARD['METRICS']['ALLOWED_CIDRS']", problems, 30)
    token = section.get("BEARER_TOKEN")
    if token is not None and (not isinstance(token, str) or len(token) < 16 or not token.isascii()):
        problems.append(error(30, "RATELIMIT_GUARD['METRICS']['BEARER_TOKEN'] must be an ASCII string of at least 16 characters."))
        token = None
    return MetricsSettings(cidrs, token)


def build_settings(raw: object) -> tuple[GuardSettings | None, list[Problem]]:
    """Validate the whole ``RATELIMIT_GUARD`` dict; return the settings and every problem."""
    problems: list[Problem] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return None, [error(1, f"RATELIMIT_GUARD is {type(raw).__name__}: expected a dict.")]
    for key in sorted(set(raw) - TOP_LEVEL_KEYS, key=str):
        problems.append(error(1, f"RATELIMIT_GUARD has unknown key {key!r}.", f"Known keys: {', '.join(sorted(TOP_LEVEL_KEYS))}."))

    enabled = raw.get("ENABLED", True)
    if not isinstance(enabled, bool):
        problems.append(error(8, f"RATELIMIT_GUARD['ENABLED'] is {enabled!r}: expected True or False."))
        enabled = True

    cache_alias = raw.get("CACHE_ALIAS", "default")
    problems.extend(_cache_alias_problems(cache_alias))

    prefix = raw.get("KEY_PREFIX", "rlg")
    if not isinstance(prefix, str) or not prefix or len(prefix) > 64 or any(
        c in prefix for c in "{} \t\r\n"
    ):
        problems.append(error(15, f"RATELIMIT_GUARD['KEY_PREFIX'] is {prefix!r}: expected 1-64 characters without braces or whitespace.",
                              "Braces would change the Redis Cluster hash tag of every key."))
        prefix = "rlg"

    default_fail_mode = FailMode.MEMORY
    if "DEFAULT_FAIL_MODE" in raw:
        try:
            default_fail_mode = FailMode(raw["DEFAULT_FAIL_MODE"])
        except ValueError:
            problems.append(error(5, f"RATELIMIT_GUARD['DEFAULT_FAIL_MODE'] is {raw['DEFAULT_FAIL_MODE']!r}.", "Use 'memory', 'closed' or 'open'."))

    client_ip = _client_ip(raw, problems)
    breaker = BreakerSettings(**_tuning("BREAKER", raw.get("BREAKER"), BREAKER_BOUNDS, problems, 11))
    fallback = FallbackSettings(**_tuning("FALLBACK", raw.get("FALLBACK"), FALLBACK_BOUNDS, problems, 12))
    control = ControlSettings(**_tuning("CONTROL", raw.get("CONTROL"), CONTROL_BOUNDS, problems, 81))
    response = _response(raw, problems)
    signing = _signing(raw, problems)
    metrics = _metrics(raw, problems)

    policies: dict[str, Policy] = {}
    raw_policies = raw.get("POLICIES") or {}
    if not isinstance(raw_policies, Mapping):
        problems.append(error(8, "RATELIMIT_GUARD['POLICIES'] must be a dict: name -> policy dict."))
        raw_policies = {}
    for name, policy_raw in raw_policies.items():
        if not isinstance(name, str):
            problems.append(error(17, f"Policy names must be strings, got {name!r}."))
            continue
        policy, policy_problems = build_policy(
            name, policy_raw, default_fail_mode=default_fail_mode, client_ip=lambda: client_ip
        )
        problems.extend(policy_problems)
        if policy is not None:
            policies[name] = policy

    if any(p.is_error for p in problems):
        return None, problems
    secret = hashlib.sha256(b"django-ratelimit-guard:keys:" + str(settings.SECRET_KEY).encode()).digest()
    return (
        GuardSettings(
            enabled=enabled,
            cache_alias=cache_alias,
            key_prefix=prefix,
            policies=policies,
            default_fail_mode=default_fail_mode,
            client_ip=client_ip,
            breaker=breaker,
            fallback=fallback,
            response=response,
            signing=signing,
            metrics=metrics,
            path_policies=tuple(p for p in policies.values() if p.paths),
            key_secret=secret,
            control=control,
        ),
        problems,
    )


def _cache_alias_problems(alias: object) -> list[Problem]:
    if not isinstance(alias, str) or not alias:
        return [error(6, f"RATELIMIT_GUARD['CACHE_ALIAS'] is {alias!r}: expected the name of a cache in CACHES.")]
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [error(6, f"RATELIMIT_GUARD['CACHE_ALIAS'] is {alias!r}, which is not in CACHES.",
                      f"Add CACHES[{alias!r}] with BACKEND {REDIS_BACKEND!r}.")]
    backend = caches[alias].get("BACKEND", "")
    if backend != REDIS_BACKEND:
        try:
            from django_redis.cache import RedisCache

            if isinstance(backend, str) and issubclass(import_string(backend), RedisCache):
                return []
        except ImportError:
            pass
        return [error(7, f"CACHES[{alias!r}] uses {backend!r}, not django-redis: the limiter needs Redis to run its Lua scripts atomically.",
                      f"Set its BACKEND to {REDIS_BACKEND!r}.")]
    return []


@functools.cache
def guard_settings() -> GuardSettings:
    """The validated settings; raises ConfigError listing every problem."""
    built, problems = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
    if built is None:
        raise ConfigError([p for p in problems if p.is_error])
    return built


_listeners: list[Callable[[], None]] = []


def on_reload(func: Callable[[], None]) -> Callable[[], None]:
    """Register a function called whenever the settings (or CACHES) change — caches of derived state."""
    _listeners.append(func)
    return func


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: object) -> None:
    if setting in ("RATELIMIT_GUARD", "CACHES", "SECRET_KEY"):
        guard_settings.cache_clear()
        for listener in _listeners:
            listener()


def reset_all() -> None:
    """Forget every cached setting and derived object (tests, reloads)."""
    guard_settings.cache_clear()
    for listener in _listeners:
        listener()


__all__ = [
    "BreakerSettings", "ClientIPSettings", "ControlSettings", "FallbackSettings", "GuardSettings", "MetricsSettings",
    "ResponseSettings", "SigningSettings", "build_settings", "guard_settings", "on_reload", "reset_all",
]
