"""On a rejection, ``RateLimit``'s ``t`` is never earlier than ``Retry-After`` (issue #13, item 5),
and the README's example response is what the code really sends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_ratelimit_guard.core.decisions import Decision, Result
from django_ratelimit_guard.edge.responses import rate_limit_headers, retry_after_seconds

README = Path(__file__).resolve().parents[2] / "README.md"
URLS = "tests.support.views_issue13"


def t_of(field: str) -> int:
    match = re.search(r";t=(\d+)$", field)
    assert match, field
    return int(match.group(1))


def test_sliding_window_rejection_advertises_t_no_earlier_than_retry_after(client, redis):
    # 3/m sliding window: the fourth POST is refused until the weighted count lets one through,
    # which is later than the end of the current window (the window's own reset).
    for _ in range(3):
        assert client.post("/login/").status_code == 200
    response = client.post("/login/")
    assert response.status_code == 429
    assert t_of(response["RateLimit"]) >= int(response["Retry-After"])


@pytest.mark.urls(URLS)
def test_a_rejection_raised_in_a_view_advertises_t_no_earlier_than_its_retry_after(client, redis):
    response = client.get("/long-wait/")
    assert response.status_code == 429
    assert response["Retry-After"] == "90"
    assert t_of(response["RateLimit"]) >= 90


seconds = st.floats(min_value=0, max_value=7 * 86400, allow_nan=False)


@given(reset_after=seconds, retry_after=seconds, remaining=st.integers(0, 10))
def test_every_rejected_decision_has_t_at_least_retry_after(reset_after, retry_after, remaining):
    decision = Decision("p", False, 10, remaining, reset_after, retry_after, "redis", 60)
    headers = rate_limit_headers(Result([decision]))
    assert t_of(headers["RateLimit"]) >= retry_after_seconds(decision)


@given(reset_after=seconds, remaining=st.integers(0, 10))
def test_allowed_decisions_advertise_their_own_reset(reset_after, remaining):
    decision = Decision("p", True, 10, remaining, reset_after, 0.0, "redis", 60)
    headers = rate_limit_headers(Result([decision]))
    assert t_of(headers["RateLimit"]) == max(0, -(-reset_after // 1))


def readme_example() -> str:
    text = README.read_text()
    match = re.search(r"```http\n(HTTP/1\.1 429.*?)```", text, re.S)
    assert match, "README.md has no example 429 response"
    return match.group(1)


def render(response) -> str:
    lines = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
    for name in ("Retry-After", "RateLimit-Policy", "RateLimit", "Content-Type"):
        lines.append(f"{name}: {response[name]}")
    return "\n".join(lines) + "\n\n" + response.content.decode()


def test_readme_example_response_is_what_the_quick_start_policy_sends(client, redis, settings):
    quick_start_login = {
        "rate": "5/m",
        "key": "ip",
        "methods": ["POST"],
        "fail_mode": "closed",
        "critical": True,
    }
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"login": quick_start_login},
    }
    for _ in range(5):
        assert client.post("/login/").status_code == 200
    response = client.post("/login/")  # "the sixth login POST from one address within a minute"
    real = render(response)
    assert t_of(response["RateLimit"]) == int(response["Retry-After"])

    example = readme_example()
    shown = re.search(r"Retry-After: (\d+)", example)
    assert shown, example
    # Only the seconds depend on when the test runs: the README shows one value for both.
    assert t_of(re.search(r"RateLimit: (.*)", example).group(1)) == int(shown.group(1))
    wait = response["Retry-After"]
    assert (
        real.replace(f"Retry-After: {wait}", f"Retry-After: {shown.group(1)}").replace(
            f";t={wait}", f";t={shown.group(1)}"
        )
        == example
    )
