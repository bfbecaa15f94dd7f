"""The Django edge: HTTP in, 429/503 and RateLimit header fields out.

``middleware.py`` (``RateLimitMiddleware``), ``decorators.py`` (``@rate_limit``), ``api.py``
(``check``, ``acheck``, ``get_usage``, ``reset``), ``responses.py`` (the rejection and the header
fields), ``views.py`` (the protected metrics export) and ``checks.py`` (the system checks of the
project around the app). The edge knows nothing of Lua, breakers or stores: it hands requests to
the engine and renders its Result.
"""
