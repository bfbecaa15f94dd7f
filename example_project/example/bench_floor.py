"""The end-to-end floor for bench/e2e.py: a middleware that does nothing but one raw redis-py
EVALSHA of a one-key INCR script per request under /bench/floor/ — the least any Redis-backed
limiter can cost a request. Not part of the demo."""

from django_redis import get_redis_connection

FLOOR_LUA = """
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return c
"""


class FloorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.client = None
        self.sha = None

    def __call__(self, request):
        if request.path_info.startswith("/bench/floor/"):
            if self.client is None:
                self.client = get_redis_connection("ratelimit")
                self.sha = self.client.script_load(FLOOR_LUA)
            self.client.evalsha(self.sha, 1, f"floor:{request.META['REMOTE_ADDR']}", 3_600_000)
        return self.get_response(request)
