"""``SignedRequestMiddleware``: verify ``RLG1-HMAC-SHA256`` request signatures (SPEC §7).

Requests under ``SIGNING['PATHS']`` (and not under ``EXEMPT_PATHS``) must carry a valid signature.
Every refusal is the same 401 body, whatever failed; the reason goes to the log and to
``ratelimit_guard_signature_failures_total{reason}``. A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``
is 413; a nonce store that can't answer under ``FAIL_MODE = "closed"`` is 503. A verified request
carries ``request.api_key_id``, so policies can key on it (``key="api_key"``): place this
middleware before ``RateLimitMiddleware``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException

from django_ratelimit_guard.conf.sections import SigningSettings
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import bus, logs
from django_ratelimit_guard.core.exceptions import SignatureError
from django_ratelimit_guard.signing import nonces, scheme
from django_ratelimit_guard.signing.checks import ensure_signing_ready
from django_ratelimit_guard.signing.nonces import Claim

logger = logging.getLogger("django_ratelimit_guard.signing")

GetResponse = Callable[[HttpRequest], Any]
#: Seconds a client is asked to wait when the nonce store could not answer.
UNAVAILABLE_RETRY_AFTER = 1


@dataclass(frozen=True, slots=True)
class Verified:
    key_id: str
    nonce: str


def unauthorized() -> HttpResponse:
    # One body for every failure: which check failed is for our logs, not for the client.
    response = JsonResponse({"error": "invalid or missing request signature"}, status=401)
    response["WWW-Authenticate"] = scheme.SCHEME
    response["Cache-Control"] = "no-store"
    return response


def refuse(request: HttpRequest, reason: str, key_id: str | None = None) -> HttpResponse:
    bus.signature_failed.publish(reason)
    logs.log(
        logger,
        logging.WARNING,
        f"signature:{reason}",
        "Refused request signature (%s): %s %r key_id=%r remote_addr=%r",
        reason,
        request.method,
        request.path[:200],
        key_id,
        str(request.META.get("REMOTE_ADDR", ""))[:64],
        extra={"reason": reason},
    )
    return logs.already_logged(unauthorized())


def too_large(request: HttpRequest) -> HttpResponse:
    logs.log(
        logger,
        logging.WARNING,
        "signature:too_large",
        "Signed request body over DATA_UPLOAD_MAX_MEMORY_SIZE: %s %r remote_addr=%r",
        request.method,
        request.path[:200],
        str(request.META.get("REMOTE_ADDR", ""))[:64],
    )
    return logs.already_logged(JsonResponse({"error": "request body too large"}, status=413))


def unavailable(request: HttpRequest) -> HttpResponse:
    logs.log(
        logger,
        logging.WARNING,
        "signature:nonce_store_unavailable",
        "Signed request refused with 503: the nonce store could not answer (%s %r).",
        request.method,
        request.path[:200],
    )
    response = JsonResponse(
        {"error": "request signature could not be verified, retry later"}, status=503
    )
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return logs.already_logged(response)


def applies(config: SigningSettings, path: str) -> bool:
    if any(path.startswith(prefix) for prefix in config.exempt_paths):
        return False
    return any(path.startswith(prefix) for prefix in config.paths)


def length_required(request: HttpRequest) -> HttpResponse:
    """A body sent without Content-Length (``Transfer-Encoding: chunked``) on a signed path: 411
    under every server. Under WSGI Django sees no body without Content-Length (it would verify
    an empty body and refuse a valid signature with 401), while ASGI servers hand the whole body
    over (and it would verify): one clear answer for both, and the client knows the fix."""
    bus.signature_failed.publish("length_required")
    logs.log(
        logger,
        logging.WARNING,
        "signature:length_required",
        "Signed request refused with 411 (a body without Content-Length): %s %r remote_addr=%r",
        request.method,
        request.path[:200],
        str(request.META.get("REMOTE_ADDR", ""))[:64],
    )
    response = JsonResponse(
        {"error": "length required: send a signed request's body with Content-Length"},
        status=411,
    )
    return logs.already_logged(response)


def signed_path(request: HttpRequest) -> str:
    """The path the signature covers: the percent-decoded bytes of the path on the wire, as UTF-8,
    with broken UTF-8 sequences re-percent-encoded (``scheme.decoded_path``) — how Django reads
    ``request.path`` under WSGI, from the latin-1 round trip of ``PATH_INFO`` (with
    ``SCRIPT_NAME``). ASGI servers decode the path themselves: uvicorn replaces invalid UTF-8
    with U+FFFD, so there (and only when the path holds one) it is read again from the bytes of
    ``scope["raw_path"]``, and both servers verify the same bytes."""
    path = request.path
    if "\ufffd" not in path:
        return path  # valid UTF-8 on the wire: every server decodes it the same way
    scope = getattr(request, "scope", None)
    raw = scope.get("raw_path") if isinstance(scope, dict) else None
    if not isinstance(raw, bytes):
        return path
    decoded = scheme.decoded_path(raw)
    root = str(scope.get("root_path") or "") if isinstance(scope, dict) else ""
    if root and not decoded.startswith(root):  # servers whose raw_path leaves root_path out
        decoded = root.rstrip("/") + decoded
    return decoded


def raw_query(request: HttpRequest) -> bytes:
    """The query string's raw bytes: ASGI keeps them; WSGI hands them over latin-1 decoded."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and isinstance(scope.get("query_string"), bytes):
        return bytes(scope["query_string"])
    text = str(request.META.get("QUERY_STRING", ""))
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def max_secrets(config: SigningSettings) -> int:
    return max((len(secrets) for secrets in config.keys.values()), default=1)


def verify(request: HttpRequest, now: float) -> Verified | HttpResponse | None:
    """Everything but the nonce: None when the path isn't signed, else a refusal or the
    verified credentials. Cheap checks (format, clock) run before the body is read or any
    HMAC computed."""
    config = guard_settings().signing
    if not applies(config, request.path_info):
        return None
    try:
        credentials = scheme.parse_authorization(request.META.get("HTTP_AUTHORIZATION"))
        scheme.check_timestamp(credentials.timestamp, now, config.max_skew_seconds)
    except SignatureError as exc:
        return refuse(request, exc.reason)
    if "HTTP_TRANSFER_ENCODING" in request.META:
        return length_required(request)
    try:
        body = request.body
    except RequestDataTooBig:
        bus.signature_failed.publish("too_large")
        return too_large(request)
    except (RawPostDataException, ValueError, OSError):
        # Something read the stream before us (middleware order), a malformed Content-Length,
        # or a broken connection: the body can't be verified, so neither can the request.
        return refuse(request, "body_unreadable", credentials.key_id)
    message = scheme.string_to_sign(
        str(request.method),
        signed_path(request),
        raw_query(request),
        request.get_host(),
        credentials.timestamp,
        credentials.nonce,
        credentials.key_id,
        body,
    )
    try:
        scheme.verify_signature(credentials, message, config.keys, max_secrets(config))
    except SignatureError as exc:
        return refuse(request, exc.reason, credentials.key_id)
    return Verified(credentials.key_id, credentials.nonce)


def after_claim(request: HttpRequest, verified: Verified, claim: Claim) -> HttpResponse | None:
    if claim is Claim.UNAVAILABLE:
        bus.signature_failed.publish("nonce_store")
        return unavailable(request)
    if claim is Claim.REPLAY:
        return refuse(request, scheme.REPLAY, verified.key_id)
    request.api_key_id = verified.key_id  # type: ignore[attr-defined]
    return None


class SignedRequestMiddleware:
    """Refuse unsigned or badly signed requests to ``SIGNING['PATHS']``; sync and async."""

    sync_capable = True
    async_capable = True
    #: Wall clock for the timestamp check; tests replace it.
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(self, get_response: GetResponse) -> None:
        # Django builds middleware when the WSGI/ASGI handler loads: fail there, not per request.
        ensure_signing_ready(installed=True)
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        outcome = verify(request, self.clock())
        if isinstance(outcome, Verified):
            claim = nonces.claim(outcome.key_id, outcome.nonce)
            outcome = after_claim(request, outcome, claim)
        if outcome is not None:
            return outcome
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        outcome = verify(request, self.clock())
        if isinstance(outcome, Verified):
            claim = await nonces.aclaim(outcome.key_id, outcome.nonce)
            outcome = after_claim(request, outcome, claim)
        if outcome is not None:
            return outcome
        get_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = self.get_response
        return await get_response(request)
