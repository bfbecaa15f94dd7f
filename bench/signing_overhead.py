"""Cost of verifying a signed request, against a raw Redis round trip measured in the same run.

    python bench/signing_overhead.py [--n 2000] [--reps 7]

Rows: the raw `SET NX EX` a nonce claim needs (the floor), the verifier alone (parse, clock,
body hash, HMACs; no Redis), and SignedRequestMiddleware on a signed request (all of it, nonce
claim included) and on an unsigned path. Medians over repetitions, interleaved; starts and stops
its own redis-server.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time

from _harness import RedisServer, median, per_op_us, print_table

SECRET = "bench-secret-0123456789abcdefghijklmnop"
BODY = b'{"name": "widget", "qty": 3, "tags": ["a", "b", "c"]}' * 4


def configure(url: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["*"],
        DATABASES={},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_ratelimit_guard",
        ],
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "ratelimit": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1},
            },
        },
        RATELIMIT_GUARD={
            "CACHE_ALIAS": "ratelimit",
            "SIGNING": {"KEYS": {"client-1": [SECRET], "client-2": [SECRET[::-1]]}},
        },
    )
    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI: does it still run?)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.reps = 50, 2

    server = RedisServer().start()
    try:
        configure(server.url)
        from django.http import HttpResponse
        from django.test import RequestFactory

        from django_ratelimit_guard import signing
        from django_ratelimit_guard.signing.middleware import SignedRequestMiddleware, verify

        factory = RequestFactory()
        counter = itertools.count()

        def signed_request() -> object:
            nonce = f"bench-nonce-{next(counter):016d}"
            headers = signing.sign(
                "POST", "http://testserver/api/items/?page=2", BODY, "client-1", SECRET, nonce=nonce
            )
            return factory.post(
                "/api/items/?page=2",
                BODY,
                content_type="application/json",
                HTTP_AUTHORIZATION=headers["Authorization"],
            )

        total = (args.n + 200) * args.reps  # per_op_us warms up with 200 calls each time
        t0 = time.perf_counter()
        requests_for_mw = iter([signed_request() for _ in range(total)])
        requests_for_verify = iter([signed_request() for _ in range(total)])
        build_s = time.perf_counter() - t0
        unsigned = factory.get("/other/")
        middleware = SignedRequestMiddleware(lambda request: HttpResponse("ok"))
        raw = server.client()
        keys = (f"bench:{i}" for i in itertools.count())

        def full() -> None:
            assert middleware(next(requests_for_mw)).status_code == 200

        def verify_only() -> None:
            verify(next(requests_for_verify), time.time())

        rows: dict[str, list[float]] = {"floor": [], "verify": [], "full": [], "unsigned": []}
        for _ in range(args.reps):
            rows["floor"] += per_op_us(
                lambda: raw.set(next(keys), b"1", nx=True, ex=120), args.n, 1
            )
            rows["verify"] += per_op_us(verify_only, args.n, 1)
            rows["full"] += per_op_us(full, args.n, 1)
            rows["unsigned"] += per_op_us(lambda: middleware(unsigned), args.n, 1)
        floor = median(rows["floor"])
        labels = {
            "floor": "raw redis-py SET NX EX (floor)",
            "verify": "verify(): parse, clock, body sha256, HMAC (no Redis)",
            "full": "SignedRequestMiddleware, signed POST (incl. nonce SET NX)",
            "unsigned": "SignedRequestMiddleware, path not signed",
        }
        table = [
            (labels[name], f"{median(values):.1f}", f"{median(values) / floor:.2f}")
            for name, values in rows.items()
        ]
        print(
            f"python {platform.python_version()}, {args.n} calls x {args.reps} reps, "
            f"body {len(BODY)} bytes, 2 key ids; building the requests took {build_s:.1f} s "
            "(not timed)"
        )
        print_table(
            "Signed request verification (median us per request)",
            table,
            ("what", "us/op", "x floor"),
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
