"""Counter stores: the same contract for each (``hit_many`` decides every hit of one request
atomically, all counted or none; ``reset`` forgets counters), one test suite for all of them.

``memory.py`` (the bounded in-process fallback), ``redis.py`` (one EVALSHA per request, through
the lean connection path of ``direct.py`` and the pre-packed command of ``packing.py``),
``aredis.py`` (its ``redis.asyncio`` twin), ``cluster.py`` (Redis Cluster, per shard) and
``cluster_client.py`` (the django-redis client class that makes a cluster a cache alias).
Stores know nothing of breakers, fail modes or metrics: errors leave as ``StoreError``
(``errors.py``), and the engine times and reports every call.
"""
