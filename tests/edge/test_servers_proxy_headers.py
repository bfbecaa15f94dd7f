"""W140: uvicorn's proxy-header handling beside TRUSTED_PROXIES is warned about at startup."""

from __future__ import annotations

import logging

import pytest

from django_ratelimit_guard.edge.servers import proxy_headers_problem, warn_about_proxy_headers

UVICORN = {"uvicorn": object()}


def test_uvicorn_with_trusted_proxies_and_default_proxy_headers_is_w140() -> None:
    problem = proxy_headers_problem(True, ["uvicorn", "app:application"], {}, UVICORN)
    assert problem is not None and problem.id == "ratelimit_guard.W140"
    assert "--no-proxy-headers" in problem.hint


@pytest.mark.parametrize(
    ("trusted", "argv", "environ", "modules"),
    [
        (False, ["uvicorn"], {}, UVICORN),  # nothing to get wrong: REMOTE_ADDR is the client
        (True, ["gunicorn"], {}, {}),  # not under uvicorn
        (True, ["uvicorn", "--no-proxy-headers"], {}, UVICORN),
        (True, ["uvicorn"], {"UVICORN_PROXY_HEADERS": "false"}, UVICORN),
        (
            True,
            ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "--forwarded-allow-ips="],
            {},
            UVICORN,
        ),
        (True, ["gunicorn", "--forwarded-allow-ips", ""], {}, UVICORN),
        (True, ["uvicorn"], {"FORWARDED_ALLOW_IPS": ""}, UVICORN),
    ],
)
def test_no_w140_when_uvicorn_cannot_rewrite_the_address(
    trusted: bool, argv: list[str], environ: dict[str, str], modules: dict[str, object]
) -> None:
    assert proxy_headers_problem(trusted, argv, environ, modules) is None


def test_the_warning_is_logged_at_startup_when_it_applies(settings, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "CLIENT_IP": {"TRUSTED_PROXIES": ["127.0.0.1/32"]},
    }
    monkeypatch.setattr("sys.argv", ["uvicorn", "app:application"])
    monkeypatch.setitem(__import__("sys").modules, "uvicorn", object())
    caplog.set_level(logging.WARNING, "django_ratelimit_guard")
    assert warn_about_proxy_headers() is not None
    assert "ratelimit_guard.W140" in caplog.text
