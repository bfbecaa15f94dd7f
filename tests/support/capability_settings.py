"""The RATELIMIT_GUARD of the issue #15 tests, and helpers their policies name."""

from __future__ import annotations

from typing import Any


def is_health_check(request: Any) -> bool:
    return request.headers.get("User-Agent", "").startswith("HealthChecker/")


def broken_skip_if(request: Any) -> bool:
    raise RuntimeError("skip_if bug")


def failed(request: Any, response: Any) -> bool:
    return response.status_code >= 400


def broken_count_when(request: Any, response: Any) -> bool:
    raise RuntimeError("count_when bug")


POLICIES: dict[str, dict[str, Any]] = {
    "failed-login": {"rate": "5/m", "key": "ip", "count_when": [401, 403]},
    "exports": {"concurrency": 2, "key": "ip", "concurrency_timeout": 30},
    "office": {
        "rate": "2/m",
        "key": "ip",
        "exempt_ips": ["10.0.0.0/8", "2001:db8::/32"],
        "skip_if": "tests.support.capability_settings.is_health_check",
    },
}


def guard(**overrides: Any) -> dict[str, Any]:
    policies = {name: dict(p) for name, p in POLICIES.items()}
    for name, fields in overrides.items():
        policies[name] = fields
    return {
        "CACHE_ALIAS": "ratelimit",
        "CONTROL": {"POLL_SECONDS": 0},
        "CLIENT_IP": {"TRUSTED_PROXIES": ["192.0.2.0/24"]},
        "POLICIES": policies,
    }
