"""Who is this client? Key functions turn a request into the value a policy counts by.

``client_ip`` walks a forwarded-for header only from trusted proxies, right to left, so a client
never chooses its own bucket; every malformed value ends in a well-defined bucket, never a 500.
Key values are hashed (keyed BLAKE2b) before they reach Redis: ``hash_key_value``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.module_loading import import_string

from django_ratelimit_guard.core import logs

logger = logging.getLogger("django_ratelimit_guard")

KeyFunc = Callable[[HttpRequest], str | None]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The bucket shared by every request whose REMOTE_ADDR is empty or unparseable.
UNKNOWN_IP = "unknown-ip"


@dataclass(frozen=True)
class ClientIPSettings:
    """``RATELIMIT_GUARD['CLIENT_IP']``, validated (``conf`` builds it): how the client address is
    found behind trusted proxies, and how addresses are grouped into buckets."""

    trusted_proxies: tuple[IPNetwork, ...] = ()
    header: str = "HTTP_X_FORWARDED_FOR"
    ipv4_prefix: int = 32
    ipv6_prefix: int = 64


def parse_ip(text: str) -> IPAddress | None:
    """Parse one address as it may appear in REMOTE_ADDR or a forwarded header.

    Strips whitespace, brackets and ports (``[2001:db8::1]:443``, ``1.2.3.4:80``) and IPv6 zone
    ids; unwraps IPv4-mapped IPv6 (``::ffff:1.2.3.4``). Returns None for anything else.
    """
    text = text.strip()
    if not text or len(text) > 64:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, trusted: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def _walk(remote_addr: str, forwarded: str, config: ClientIPSettings) -> IPAddress | None:
    remote = parse_ip(remote_addr)
    if (
        remote is None
        or not config.trusted_proxies
        or not _is_trusted(remote, config.trusted_proxies)
    ):
        return remote
    # Right to left: the rightmost entries were appended by our own proxies; the first one that
    # is not a trusted proxy is the client as our edge saw it. No header at all (or an empty
    # one): the proxy itself is the client (its own health checks). A malformed entry met before
    # that client: nobody can say who the client is (and nothing to its left can be trusted), so
    # it is the shared unknown-ip bucket — never the proxy's own bucket, which every request
    # without a header shares, and the same bucket uvicorn's proxy-header handling ends in.
    if not forwarded.strip():
        return remote
    for entry in reversed(forwarded.split(",")):
        hop = parse_ip(entry)
        if hop is None or not _is_trusted(hop, config.trusted_proxies):
            return hop
    return hop  # every hop was a trusted proxy: the leftmost one is the client


def client_ip(request: HttpRequest, config: ClientIPSettings) -> str:
    """The client address as a bucket name; IPv6 grouped by prefix, IPv4 by IPV4_PREFIX."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR")
    forwarded = meta.get(config.header) if config.trusted_proxies else None
    if forwarded is not None and meta.get("REMOTE_PORT") == 0:
        _rewritten_by_server(remote, forwarded)
    remote_text, forwarded_text = str(remote or ""), str(forwarded or "")
    if len(remote_text) + len(forwarded_text) > CACHED_HEADER_LENGTH:
        bucket = _compute_bucket(remote_text, forwarded_text, config)  # never pinned in the cache
    else:
        bucket = _bucket(remote_text, forwarded_text, config)
    if bucket == UNKNOWN_IP:
        logs.log(
            logger,
            logging.WARNING,
            "client_ip:unknown",
            "Request with an empty or unparseable client address (REMOTE_ADDR %r, %s %r); "
            "counted in the %r bucket.",
            str(remote)[:64],
            config.header,
            forwarded_text[:128],
            UNKNOWN_IP,
            extra={"remote_addr": str(remote)[:64]},
        )
    return bucket


def _rewritten_by_server(remote: object, forwarded: object) -> None:
    # Under ASGI the port is an int; a real TCP peer never has port 0, but uvicorn's proxy-header
    # handling sets it when it replaces the client with an X-Forwarded-For entry (edge/servers.py).
    logs.log(
        logger,
        logging.WARNING,
        "client_ip:rewritten_by_server",
        "REMOTE_ADDR %r (port 0) looks rewritten from %r by the server's proxy-header handling "
        "(uvicorn's is on by default): run uvicorn with --no-proxy-headers so that "
        "TRUSTED_PROXIES decides (ratelimit_guard.W140).",
        str(remote)[:64],
        str(forwarded)[:128],
    )


#: A forwarded-for chain longer than this is parsed every time instead of cached, so a flood of
#: huge distinct headers cannot pin megabytes of them in memory.
CACHED_HEADER_LENGTH = 512


def _compute_bucket(remote: str, forwarded: str, config: ClientIPSettings) -> str:
    address = _walk(remote, forwarded, config)
    if address is None:
        return UNKNOWN_IP
    return address_bucket(address, config)


def address_bucket(address: IPAddress, config: ClientIPSettings) -> str:
    """The bucket of one client address: itself, or its network under IPV4/IPV6_PREFIX."""
    prefix = config.ipv4_prefix if address.version == 4 else config.ipv6_prefix
    if prefix == address.max_prefixlen:
        return str(address)
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def address_from(remote: str, forwarded: str, config: ClientIPSettings) -> IPAddress | None:
    """The client's own address as ``client_ip`` finds it from REMOTE_ADDR and the forwarded
    header (walked only behind trusted proxies), unmasked; None when REMOTE_ADDR is empty or
    unparseable. For ``exempt_ips`` (engine/exemptions.py)."""
    return _walk(remote, forwarded, config)


# Pure in its arguments, so cached: parsing addresses is the costliest step of a decision and the
# same few thousand clients account for most requests.
_bucket = functools.lru_cache(maxsize=4096)(_compute_bucket)


@dataclass(frozen=True)
class KeySpec:
    """A resolved ``key`` field: the function and how it was written (for admin and checks)."""

    spec: str
    func: KeyFunc
    uses_user: bool = False
    #: Whether every policy written with this ``spec`` gets the same value for one request (true
    #: of the built-in keys and of import paths, not of a callable given as such): the limiter
    #: then resolves it once per request, however many policies use it.
    shared: bool = True


def _user_pk(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return str(user.pk)


def build_key(spec: object, config_getter: Callable[[], ClientIPSettings]) -> KeySpec:
    """Resolve a ``key`` setting. Raises ``ValueError`` with a readable message when unknown."""

    def ip(request: HttpRequest) -> str:
        return client_ip(request, config_getter())

    if callable(spec):
        name = getattr(spec, "__qualname__", repr(spec))
        return KeySpec(f"{getattr(spec, '__module__', '')}.{name}", spec, shared=False)
    if not isinstance(spec, str):
        raise ValueError(f"expected a string or a callable, got {type(spec).__name__}")
    if spec == "ip":
        return KeySpec(spec, ip)
    if spec == "user":
        return KeySpec(spec, _user_pk, uses_user=True)
    if spec == "user_or_ip":

        def user_or_ip(request: HttpRequest) -> str:
            pk = _user_pk(request)
            return f"user:{pk}" if pk is not None else f"ip:{ip(request)}"

        return KeySpec(spec, user_or_ip, uses_user=True)
    if spec == "api_key":

        def api_key(request: HttpRequest) -> str | None:
            value = getattr(request, "api_key_id", None)
            return str(value) if value else None

        return KeySpec(spec, api_key)
    if spec.startswith("header:"):
        header = spec[len("header:") :]
        if not header or not all(c.isascii() and (c.isalnum() or c in "-_") for c in header):
            raise ValueError(f"{spec!r}: expected 'header:<Name>' such as 'header:X-Api-Key'")

        def header_value(request: HttpRequest) -> str:
            # A missing header is one shared bucket, not an exemption: leaving the header out
            # must not be a way around the limit.
            return str(request.headers.get(header, ""))

        return KeySpec(spec, header_value)
    if spec.startswith("param:"):
        param = spec[len("param:") :]
        if not param:
            raise ValueError(f"{spec!r}: expected 'param:<name>' such as 'param:username'")

        def param_value(request: HttpRequest) -> str:
            value = request.GET.get(param)
            if value is None and request.method == "POST":
                value = request.POST.get(param)
            return value or ""

        return KeySpec(spec, param_value)
    if "." in spec:
        try:
            func = import_string(spec)
        except ImportError as exc:
            raise ValueError(f"{spec!r} could not be imported: {exc}") from None
        if not callable(func):
            raise ValueError(f"{spec!r} is not callable")
        return KeySpec(spec, func)
    raise ValueError(
        f"{spec!r} is not a key: use 'ip', 'user', 'user_or_ip', 'api_key', 'header:<Name>', "
        "'param:<name>', a callable or a dotted path to one"
    )


def hash_key_value(value: str, secret: bytes) -> str:
    """The digest stored in Redis instead of the raw value (an IP, a user id, a header)."""
    return hashlib.blake2b(
        value.encode("utf-8", "surrogatepass"), digest_size=12, key=secret
    ).hexdigest()
