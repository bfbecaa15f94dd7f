"""The observability kit: ``grafana-dashboard.json`` and ``prometheus-alerts.yml`` (package data).

``path(name)`` returns the installed file, e.g. to copy it into a provisioning directory::

    from django_ratelimit_guard.contrib.observability import path
    print(path("prometheus-alerts.yml"))
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

FILES = ("grafana-dashboard.json", "prometheus-alerts.yml")


def path(name: str) -> Path:
    if name not in FILES:
        raise ValueError(f"{name!r} is not part of the observability kit: {', '.join(FILES)}")
    return Path(str(resources.files(__package__).joinpath(name)))
