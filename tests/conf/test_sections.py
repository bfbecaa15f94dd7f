"""docs/settings.md documents every settings key conf accepts, with its environment variable."""

from __future__ import annotations

from pathlib import Path

from django_ratelimit_guard.conf import sections
from django_ratelimit_guard.conf.settings import TOP_LEVEL_KEYS
from django_ratelimit_guard.core.policies import POLICY_FIELDS

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "settings.md").read_text()


def documented(key: str) -> bool:
    return f"| `{key}` |" in PAGE


def test_every_top_level_key_is_documented():
    assert sorted(k for k in TOP_LEVEL_KEYS if not documented(k)) == []


def test_every_policy_field_is_documented():
    assert sorted(f for f in POLICY_FIELDS if not documented(f)) == []


def test_every_breaker_and_fallback_key_has_its_default_and_environment_variable():
    for section, bounds, defaults in (
        ("BREAKER", sections.BREAKER_BOUNDS, sections.BreakerSettings()),
        ("FALLBACK", sections.FALLBACK_BOUNDS, sections.FallbackSettings()),
        ("CONTROL", sections.CONTROL_BOUNDS, sections.ControlSettings()),
    ):
        for key in bounds:
            row = next(
                (line for line in PAGE.splitlines() if line.startswith(f"| `{key}` |")), None
            )
            assert row is not None, key
            default = getattr(defaults, key.lower())
            assert (
                f"`{default:g}`" in row if not isinstance(default, bool) else f"`{default}`" in row
            ), row
            assert f"`RATELIMIT_GUARD_{section}_{key}`" in row, row


def test_client_ip_response_signing_and_metrics_keys_are_documented():
    keys = {
        "TRUSTED_PROXIES",
        "HEADER",
        "IPV4_PREFIX",
        "IPV6_PREFIX",
        "STATUS",
        "HEADERS",
        "VIEW",
        "KEYS",
        "PATHS",
        "EXEMPT_PATHS",
        "MAX_SKEW_SECONDS",
        "FAIL_MODE",
        "ALLOWED_CIDRS",
        "BEARER_TOKEN",
    }
    assert sorted(k for k in keys if not documented(k)) == []
