"""The observability kit parses, and uses only the metric names of SPEC §8.

(promtool validates the PromQL and unit-tests the alerts in scripts/check_observability.sh.)
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from django_ratelimit_guard.contrib.observability import FILES, path
from tests.support.spec import SPEC_METRICS

# Labels Prometheus itself attaches, and histogram series labels.
GENERIC_LABELS = {"job", "instance", "le"}
METRIC_RE = re.compile(r"\bratelimit_guard_[a-z_]+")
SELECTOR_RE = re.compile(r"(ratelimit_guard_[a-z_]+)\{([^}]*)\}")
BY_RE = re.compile(r"\bby \(([^)]*)\)")


def metric_base(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in SPEC_METRICS:
            return name[: -len(suffix)]
    return name


def check_expr(expr: str) -> None:
    names = {metric_base(n) for n in METRIC_RE.findall(expr)}
    assert names, expr
    assert names <= set(SPEC_METRICS), names - set(SPEC_METRICS)
    allowed = set().union(*(SPEC_METRICS[n] for n in names)) | GENERIC_LABELS
    for _metric, selector in SELECTOR_RE.findall(expr):
        for matcher in filter(None, (m.strip() for m in selector.split(","))):
            label = re.split(r"[=!~]", matcher, maxsplit=1)[0].strip()
            assert label in allowed, (label, expr)
    for group in BY_RE.findall(expr):
        for label in (g.strip() for g in group.split(",")):
            assert label in allowed, (label, expr)
    assert expr.count("(") == expr.count(")"), expr


def test_kit_files_are_installed_package_data():
    for name in FILES:
        assert path(name).is_file()
    with pytest.raises(ValueError, match="not part of the observability kit"):
        path("../settings.py")


def test_alert_rules_cover_the_required_conditions():
    rules = yaml.safe_load(path("prometheus-alerts.yml").read_text())
    (group,) = rules["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert "== 2" in alerts["RateLimitGuardBreakerOpen"]["expr"]
    assert alerts["RateLimitGuardBreakerOpen"]["for"] == "1m"
    assert "ratelimit_guard_fallback_capacity" in alerts["RateLimitGuardFallbackFilling"]["expr"]
    assert "> 0.8" in alerts["RateLimitGuardFallbackFilling"]["expr"]  # FALLBACK WARN_RATIO default
    assert (
        "ratelimit_guard_signature_failures_total"
        in alerts["RateLimitGuardSignatureFailureSpike"]["expr"]
    )
    assert 'source="open"' in alerts["RateLimitGuardFailOpenDecisions"]["expr"]
    for rule in group["rules"]:
        check_expr(rule["expr"])
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_dashboard_panels_query_spec_metrics_and_do_not_overlap():
    dashboard = json.loads(path("grafana-dashboard.json").read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        area = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & area, panel["title"]
        cells |= area
        assert panel["targets"]
        for target in panel["targets"]:
            check_expr(target["expr"])
    queried = {
        metric_base(n) for p in panels for t in p["targets"] for n in METRIC_RE.findall(t["expr"])
    }
    assert queried == set(SPEC_METRICS)


@pytest.mark.parametrize(
    "bad",
    [
        "max(ratelimit_guard_breaker_states) == 2",
        'sum(rate(ratelimit_guard_decisions_total{tenant="x"}[5m]))',
        "sum by (tenant) (ratelimit_guard_fallback_entries)",
        "sum(rate(ratelimit_guard_decisions_total[5m])",
    ],
)
def test_the_expression_check_rejects_unknown_metrics_labels_and_unbalanced_parens(bad):
    with pytest.raises(AssertionError):
        check_expr(bad)
