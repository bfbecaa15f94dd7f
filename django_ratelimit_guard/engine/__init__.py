"""The engine: from policies to decisions, through the breaker, the guarded call and the fail modes.

``registry.py`` (policies by name) -> ``plan.py`` (policies to storage hits) -> ``limiter.py``
(a request to a Result) -> ``decide.py`` (one guarded store call, or ``failmodes.py``) ->
``cluster.py`` (per shard under Redis Cluster). ``breaker.py``/``breakers.py`` are the circuit
breakers, ``guarded.py`` the one protocol every Redis call follows, ``reconcile.py`` the merge of
outage counts back into Redis. The engine publishes what happened on ``core.bus``; it never
imports the operations side, signing or the Django edge.
"""
