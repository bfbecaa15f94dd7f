"""What the app can tell about the server it runs under, where the server changes what Django sees.

uvicorn's proxy-header handling (on by default, trusting ``127.0.0.1``; ``--forwarded-allow-ips``,
``--no-proxy-headers``) rewrites the ASGI client address from ``X-Forwarded-For`` before Django
sees it. ``REMOTE_ADDR`` is then the header's client, not the peer: ``CLIENT_IP['TRUSTED_PROXIES']``
is judged against an address the server already chose, and ``METRICS['ALLOWED_CIDRS']`` follows
the header. System checks never run under uvicorn, so this is a warning logged at startup
(``ratelimit_guard.W140``) when uvicorn is loaded, ``TRUSTED_PROXIES`` is set, and its proxy
headers were not turned off on its command line (``--no-proxy-headers``) or in its environment
(``UVICORN_PROXY_HEADERS=false``). Requests that show the rewrite (an ASGI client port of 0 with a
forwarded header) are logged by ``core/keys.py`` too (aggregated). docs/security.md says how to
configure both together.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.problems import Problem, warning

logger = logging.getLogger("django_ratelimit_guard")

_OFF = frozenset({"0", "false", "no", "off"})


def proxy_headers_problem(
    trusted: bool,
    argv: Sequence[str],
    environ: Mapping[str, str],
    modules: Mapping[str, object],
) -> Problem | None:
    """W140 when uvicorn may rewrite REMOTE_ADDR while TRUSTED_PROXIES is configured."""
    if not trusted or "uvicorn" not in modules:
        return None
    if "--no-proxy-headers" in argv or environ.get("UVICORN_PROXY_HEADERS", "").lower() in _OFF:
        return None
    if _trusts_nobody(argv, environ):
        return None
    return warning(
        140,
        "RATELIMIT_GUARD['CLIENT_IP']['TRUSTED_PROXIES'] is set and this process runs under "
        "uvicorn, whose proxy-header handling (on by default for 127.0.0.1) rewrites REMOTE_ADDR "
        "from X-Forwarded-For before Django sees it: the client address and the metrics "
        "address check then follow uvicorn's trust list, not TRUSTED_PROXIES.",
        "Run uvicorn with --no-proxy-headers (UVICORN_PROXY_HEADERS=false; under gunicorn's "
        "uvicorn worker, --forwarded-allow-ips='') and let TRUSTED_PROXIES walk the header.",
    )


def _trusts_nobody(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """``--forwarded-allow-ips=''`` (uvicorn, or gunicorn running uvicorn's worker): the proxy
    headers of no peer are trusted, so nothing is rewritten."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--forwarded-allow-ips=":
            return True
        if arg == "--forwarded-allow-ips" and i + 1 < len(args) and not args[i + 1].strip():
            return True
    return environ.get("FORWARDED_ALLOW_IPS", None) == ""


def warn_about_proxy_headers() -> Problem | None:
    """Log W140 once, at startup (``apps.ready``), when it applies to this process."""
    problem = proxy_headers_problem(
        bool(guard_settings().client_ip.trusted_proxies), sys.argv, os.environ, sys.modules
    )
    if problem is not None:
        logger.warning("%s (%s) %s", problem.msg, problem.id, problem.hint)
    return problem


__all__ = ["proxy_headers_problem", "warn_about_proxy_headers"]
