"""Settings for the test suite. The rate-limit cache points at a redis-server the fixtures start
(see conftest.py); tests change RATELIMIT_GUARD through the ``settings`` fixture."""

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.support.urls"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",  # the admin's CSS for the browser test's live server
    "django_ratelimit_guard",
]
STATIC_URL = "/static/"
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_ratelimit_guard.middleware.RateLimitMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
# Replaced per test session by conftest.py with the port of a redis-server it started.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    },
}
RATELIMIT_GUARD = {
    "CACHE_ALIAS": "ratelimit",
    # No fleet poller thread in-process (tests/system/test_fleet_processes.py runs real worker
    # processes with one).
    "CONTROL": {"POLL_SECONDS": 0},
    "POLICIES": {
        "login": {
            "rate": "3/m",
            "key": "ip",
            "methods": ["POST"],
            "fail_mode": "closed",
            "critical": True,
        },
        "api": {
            "rate": "5/m",
            "key": "user_or_ip",
            "paths": ["/api/"],
            "exempt_paths": ["/api/health"],
        },
        "burst": {"rate": "10/s", "algorithm": "token_bucket", "key": "ip"},
    },
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING_CONFIG = None
