"""E006 / E007 name the caches that would work (issue #13, item 3)."""

from __future__ import annotations

from django_ratelimit_guard.conf.caches import cache_alias_problems

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
REDIS = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}


def test_a_misspelt_alias_lists_the_caches_and_suggests_the_closest(settings):
    settings.CACHES = {"default": LOCMEM, "ratelimit": REDIS}
    (problem,) = cache_alias_problems("ratelimt")
    assert problem.id == "ratelimit_guard.E006"
    assert "'default', 'ratelimit'" in problem.msg
    assert "Did you mean 'ratelimit'?" in problem.hint
    assert "Add CACHES['ratelimt']" not in problem.hint  # no advice to add the typo


def test_an_unknown_alias_names_the_django_redis_caches_that_would_work(settings):
    settings.CACHES = {"default": LOCMEM, "limits": REDIS, "sessions": REDIS}
    (problem,) = cache_alias_problems("elsewhere")
    assert "'limits', 'sessions'" in problem.hint


def test_a_defaulted_alias_that_is_not_django_redis_says_it_was_not_set(settings):
    settings.CACHES = {"default": LOCMEM, "ratelimit": REDIS}
    (problem,) = cache_alias_problems("default", explicit=False)
    assert problem.id == "ratelimit_guard.E007"
    assert "CACHE_ALIAS'] is not set, so it defaulted to 'default'" in problem.msg
    assert "'ratelimit'" in problem.hint


def test_an_explicit_alias_is_reported_as_set(settings):
    settings.CACHES = {"default": LOCMEM}
    (problem,) = cache_alias_problems("default")
    assert "defaulted" not in problem.msg
    assert "CACHES has no django-redis cache" in problem.hint


def test_check_reports_the_default_when_cache_alias_is_missing(settings):
    from django.core import checks

    settings.CACHES = {"default": LOCMEM}
    settings.RATELIMIT_GUARD = {"POLICIES": {}}
    (message,) = [
        m for m in checks.run_checks(tags=["ratelimit_guard"]) if m.id == "ratelimit_guard.E007"
    ]
    assert "is not set, so it defaulted to 'default'" in message.msg
