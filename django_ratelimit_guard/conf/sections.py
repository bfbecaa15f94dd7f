"""The validated shape of ``RATELIMIT_GUARD``: one frozen dataclass per section.

``settings.py`` builds them (``build_settings``) from the user's dict; everything else reads them
through ``guard_settings()``. ``ClientIPSettings`` lives with the key functions that use it
(``core/keys.py``) and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from django_ratelimit_guard.core.keys import ClientIPSettings, IPNetwork
from django_ratelimit_guard.core.policies import FailMode, Policy


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
    health_check_seconds: float = 0.5  # 0: no health checks (recovery waits for the probes)


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
    """The fleet control channel (``ops/fleet.py``): how often a busy process looks for commands."""

    # 1 s: overrides and commands apply within 2 s end to end (docs/overrides.md); 0: no poll.
    poll_seconds: float = 1.0
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
    local_denials: bool = True  # engine/local.py


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
    "HEALTH_CHECK_SECONDS": (float, 0.0, 60),
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


__all__ = [
    "BREAKER_BOUNDS",
    "CONTROL_BOUNDS",
    "FALLBACK_BOUNDS",
    "BreakerSettings",
    "ClientIPSettings",
    "ControlSettings",
    "FallbackSettings",
    "GuardSettings",
    "MetricsSettings",
    "ResponseSettings",
    "SigningSettings",
]
