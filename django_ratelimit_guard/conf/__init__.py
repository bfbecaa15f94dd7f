"""Settings: ``RATELIMIT_GUARD`` built once, validated (every problem at once), frozen, cached,
and dropped with every derived cache when the settings change.

``sections.py`` is the validated shape, ``validate.py`` the per-section validators,
``settings.py`` the cache (``guard_settings()``), ``on_reload`` and ``reset_all``.
"""
