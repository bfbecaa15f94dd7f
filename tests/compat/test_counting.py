"""Where the compat layer counts, and what it answers when counting fails."""

from __future__ import annotations

import pytest
from django.core.cache.backends.locmem import LocMemCache

from django_ratelimit_guard.compat import counting as _counting
from django_ratelimit_guard.compat.core import get_usage, is_ratelimited
from django_ratelimit_guard.compat.decorators import ratelimit
from tests.support.builders import evalsha_calls, redis_cache, unreachable_cache


class BrokenCache(LocMemCache):
    """A cache whose every operation fails, like a memcached or Redis that is down."""

    def add(self, *args, **kwargs):
        raise ConnectionError("cache down")

    def incr(self, *args, **kwargs):
        raise ConnectionError("cache down")

    def get(self, *args, **kwargs):
        raise ConnectionError("cache down")


def test_guard_cache_alias_is_counted_by_one_evalsha_of_the_engine(rf, settings, redis):
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    is_ratelimited(rf.get("/"), group="warm-up", key="ip", rate="1/m")  # loads the script
    before = evalsha_calls(redis)
    assert not is_ratelimited(rf.get("/"), group="g", key="ip", rate="1/m", increment=True)
    assert evalsha_calls(redis) - before == 1
    keys = [k.decode() for k in redis.client().keys("*")]
    assert len(keys) == 1
    assert keys[0].startswith("rlg:{")
    assert keys[0].endswith(":ratelimit:g:1/60s:fw")
    # The raw client address never reaches Redis (keys are hashed).
    assert "127.0.0.1" not in keys[0]


def test_another_django_redis_alias_counts_with_cache_add_and_incr(rf, settings, redis):
    settings.CACHES = {**settings.CACHES, "other": redis_cache(redis.url)}
    settings.RATELIMIT_USE_CACHE = "other"
    before = evalsha_calls(redis)
    is_ratelimited(rf.get("/"), group="g", key="ip", rate="1/m", increment=True)
    assert evalsha_calls(redis) == before
    keys = [k.decode() for k in redis.client().keys("*")]
    assert len(keys) == 1
    assert ":rl:" in keys[0]


def test_cache_prefix_and_hash_algorithm_settings_shape_the_cache_key(rf, settings, redis):
    settings.CACHES = {**settings.CACHES, "other": redis_cache(redis.url)}
    settings.RATELIMIT_USE_CACHE = "other"
    settings.RATELIMIT_CACHE_PREFIX = "custom:"
    settings.RATELIMIT_HASH_ALGORITHM = "hashlib.md5"
    is_ratelimited(rf.get("/"), group="g", key="ip", rate="1/m", increment=True)
    (key,) = [k.decode() for k in redis.client().keys("*")]
    digest = key.rsplit("custom:", 1)[1]
    assert len(digest) == 32  # md5 hex


def test_django_cache_windows_are_offset_per_key_by_crc32(monkeypatch):
    monkeypatch.setattr(_counting, "now", lambda: 1_000_000.0)
    ends = {_counting._get_window(value, 60) for value in ("a", "b", "c", "d", "e")}
    assert len(ends) > 1
    assert all(1_000_000 <= end < 1_000_060 for end in ends)
    assert _counting._get_window("a", 1) == 1_000_000


def test_django_cache_window_rolls_over_at_its_end(rf, settings, monkeypatch):
    settings.CACHES = {
        **settings.CACHES,
        "lm": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "roll"},
    }
    settings.RATELIMIT_USE_CACHE = "lm"
    clock = [1_000_000.0]
    monkeypatch.setattr(_counting, "now", lambda: clock[0])
    usage = get_usage(rf.get("/"), group="g", key="ip", rate="1/m", increment=True)
    end = clock[0] + usage["time_left"]
    assert get_usage(rf.get("/"), group="g", key="ip", rate="1/m", increment=True)["should_limit"]
    clock[0] = end + 1
    assert not get_usage(rf.get("/"), group="g", key="ip", rate="1/m", increment=True)[
        "should_limit"
    ]


@pytest.fixture(params=["engine-down", "cache-down"])
def broken(request, settings):  # type: ignore[no-untyped-def]
    if request.param == "engine-down":
        # The guard's own alias, pointing at a port nothing listens on.
        dead = unreachable_cache()
        settings.CACHES = {**settings.CACHES, "ratelimit": dead}
        settings.RATELIMIT_USE_CACHE = "ratelimit"
    else:
        backend = "tests.compat.test_counting.BrokenCache"
        settings.CACHES = {**settings.CACHES, "broken": {"BACKEND": backend}}
        settings.RATELIMIT_USE_CACHE = "broken"
    return request.param


def test_counting_failure_limits_by_default(broken, rf):
    @ratelimit(key="ip", rate="10/m", block=False)
    def view(request):
        return request.limited

    assert view(rf.post("/"))
    assert get_usage(rf.get("/"), group="g", key="ip", rate="1/m") == {
        "count": 0,
        "limit": 0,
        "should_limit": True,
        "time_left": -1,
    }


def test_counting_failure_with_fail_open_does_not_limit(broken, rf, settings):
    settings.RATELIMIT_FAIL_OPEN = True

    @ratelimit(key="ip", rate="1/m", block=False)
    def view(request):
        return request.limited

    assert not view(rf.get("/"))
    assert not view(rf.get("/"))
    assert get_usage(rf.get("/"), group="g", key="ip", rate="1/m") is None


def test_engine_answers_from_the_resilience_layer_map_to_fail_open_semantics(
    rf, settings, redis, monkeypatch
):
    # Once the breaker is merged, decide.decide answers "closed"/"open" instead of raising.
    from django_ratelimit_guard.core.algorithms import Verdict
    from django_ratelimit_guard.engine import decide

    settings.RATELIMIT_USE_CACHE = "ratelimit"
    seen = []

    def undecided(planned, *, count=True):
        seen.extend(p.policy.fail_mode.value for p in planned)
        source = planned[0].policy.fail_mode.value  # "open" or "closed"
        return [(Verdict(source == "open", 0, 0, 0), source) for _ in planned]

    monkeypatch.setattr(decide, "decide", undecided)
    assert is_ratelimited(rf.get("/"), group="g", key="ip", rate="5/m", increment=True)
    settings.RATELIMIT_FAIL_OPEN = True
    assert not is_ratelimited(rf.get("/"), group="g", key="ip", rate="5/m", increment=True)
    assert seen == ["closed", "open"]


def test_unknown_cache_alias_raises_like_django_ratelimit(rf, settings):
    from django.core.cache import InvalidCacheBackendError

    settings.RATELIMIT_USE_CACHE = "fake-cache"
    with pytest.raises(InvalidCacheBackendError):
        is_ratelimited(rf.get("/"), group="g", key="ip", rate="1/m", increment=True)
