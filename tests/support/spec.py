"""What SPEC §8 promises about metrics: each name, with exactly its labels."""

SPEC_METRICS = {
    "ratelimit_guard_decisions_total": {"policy", "outcome", "source"},
    "ratelimit_guard_breaker_state": {"scope"},
    "ratelimit_guard_breaker_transitions_total": {"scope", "from_state", "to_state"},
    "ratelimit_guard_store_errors_total": {"scope", "error"},
    "ratelimit_guard_store_latency_seconds": {"store"},
    "ratelimit_guard_fallback_entries": set(),
    "ratelimit_guard_fallback_capacity": set(),
    "ratelimit_guard_fallback_evictions_total": {"reason"},
    "ratelimit_guard_signature_failures_total": {"reason"},
    "ratelimit_guard_local_denials_total": {"policy"},  # issue #14, docs/performance.md
}


def metric_value(name: str, **labels: str) -> float:
    """One sample of this process's default Prometheus registry (0 when it is absent)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0
