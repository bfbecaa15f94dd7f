"""A real worker process for tests/system/test_fleet_processes.py: Django with
tests.support.fleet.settings.

argv[1]: "sync" (django.test.Client, the sync middleware path) or "async" (AsyncClient, the ASGI
handler and the async path); argv[2], optional: the path (default /fleet/). Each line "req" on
stdin runs one request through the full middleware stack and prints {"pid", "source", "status",
"t"} as JSON; EOF exits.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.fleet.settings")

import django

django.setup()

from django.test import AsyncClient, Client  # noqa: E402

mode = sys.argv[1]
path = sys.argv[2] if len(sys.argv) > 2 else "/fleet/"


def report(response: object) -> None:
    request = getattr(response, "wsgi_request", None) or getattr(response, "asgi_request", None)
    result = getattr(request, "rate_limit", None)
    source = result.decisions[0].source if result is not None and result.decisions else None
    status = getattr(response, "status_code", None)
    answer = {"pid": os.getpid(), "source": source, "status": status, "t": time.time()}
    print(json.dumps(answer), flush=True)


async def serve_async() -> None:
    client = AsyncClient(REMOTE_ADDR="192.0.2.10")
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if line.strip() == "req":
            report(await client.get(path))


if mode == "async":
    asyncio.run(serve_async())
else:
    client = Client(REMOTE_ADDR="192.0.2.10")
    for line in sys.stdin:
        if line.strip() == "req":
            report(client.get(path))
