"""``manage.py ratelimit_guard status``: the fleet-wide view as text (``ops/reports.py``)."""

from __future__ import annotations

from django_ratelimit_guard.ops.reports import ProcessRow


def breaker_text(breaker: dict[str, object]) -> str:
    text = f"{breaker['scope']}={breaker['state']}"
    if breaker.get("opened_by"):
        text += (
            f" ({breaker['opened_by']}; {breaker['recent_failures']}/{breaker['recent_calls']}"
            f" failed, {breaker['consecutive_failures']} consecutive)"
        )
    return text


def process_lines(processes: list[ProcessRow], error: str | None) -> list[str]:
    """A heading and one line per live process: host:pid, breakers, fallback fill, last seen."""
    lines = [f"Every live process ({len(processes)}), as each last reported:"]
    if error:
        lines.append(f"  could not be read: {error}")
    for p in processes:
        breakers = ", ".join(breaker_text(b) for b in p.breakers) or "no breaker yet"
        lines.append(
            f"  {p.host}:{p.pid}{' (this process)' if p.this_process else ''}  {breakers}  "
            f"fallback {p.fallback_entries}/{p.fallback_capacity} ({p.fill_percent}%)  "
            f"seen {p.seen_seconds_ago} s ago"
        )
    if not processes and not error:
        lines.append("  none has reported (a process reports from its first decision on)")
    return lines


__all__ = ["breaker_text", "process_lines"]
