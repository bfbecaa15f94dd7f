"""What the tests share, written once: real servers (``redis_servers``, ``redis_cluster``,
``slow_proxy``, the fleet and metrics worker processes), fixtures (``fixtures``, loaded by
``tests/conftest.py``), builders (``builders``, ``admin``, ``signing``, ``outages``), the reference
model of the stores (``reference``), and the Django project the tests run
(``settings``, ``urls``, ``views``)."""
