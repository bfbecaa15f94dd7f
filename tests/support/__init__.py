"""What the tests share, written once (docs/architecture.md, "Tests").

- Real servers: ``redis_servers`` (one redis-server), ``redis_cluster`` (a Redis Cluster, a
  Sentinel group), ``slow_proxy``; worker processes: ``fleet/`` and ``metrics_worker``.
- Fixtures: ``fixtures`` and ``fleet/fixtures``, loaded by ``tests/conftest.py``.
- Builders: ``builders`` (cache aliases, RATELIMIT_GUARD sections, hits, requests, users),
  ``guards`` and ``cluster`` (the ``guard`` marker configurations several modules share, cheap
  outages), ``admin``, ``signing``, ``spec``; ``reference``, the reference model of a store.
- The Django project the tests run: ``settings`` (DJANGO_SETTINGS_MODULE), ``urls``,
  ``urls_swapped``, ``views``, ``callables``, ``api_urls``, ``api_views``, ``prometheus_urls``.
"""
