"""The facts the admin status page and ``manage.py ratelimit_guard status`` show.

One :func:`collect` call first applies pending fleet commands (two small database queries,
``fleet.py``), then costs at most two Redis round trips and four commands: ``PING`` (the
round-trip time; a diagnostic sent whatever the breaker says, since the page must tell whether
Redis answers now), then one pipeline of ``INFO server memory`` and two ``ZREVRANGE`` (the
most-limited clients of this window and the previous one), a guarded call like every other
(``engine/guarded.py``). When the ``PING`` fails nothing else is sent, so a down or frozen Redis
costs one socket timeout at most.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.engine import decide, guarded, local, registry
from django_ratelimit_guard.engine.breakers import all_breakers, get_breaker
from django_ratelimit_guard.ops import events, fleet, metrics, overrides, reports, top_clients
from django_ratelimit_guard.stores.answers import answer_memory
from django_ratelimit_guard.stores.errors import classify
from django_ratelimit_guard.stores.fallback import fallback_store


@dataclass
class RedisStatus:
    alias: str
    reachable: bool
    rtt_ms: float | None = None
    version: str = ""
    used_memory: int | None = None
    used_memory_human: str = ""
    error: str = ""
    commands: int = 0  # Redis commands this probe sent


@dataclass
class FallbackStatus:
    entries: int = 0
    capacity: int = 0
    evictions: dict[str, int] = field(default_factory=dict)
    warn_ratio: float = 0.8

    @property
    def fill_percent(self) -> float:
        return round(100 * self.entries / self.capacity, 1) if self.capacity else 0.0

    @property
    def pressure(self) -> bool:
        return bool(self.capacity) and self.entries >= self.warn_ratio * self.capacity


@dataclass
class LocalDenialsStatus:
    """Exact local denials (``engine/local.py``) and the memory of Redis's answers behind them."""

    enabled: bool
    denied: int  # requests this process denied without a Redis command
    remembered: int  # clients and policies whose last Redis answer this process keeps
    capacity: int


@dataclass
class BreakerRow:
    scope: str
    state: str
    consecutive_failures: int
    recent_failures: int
    recent_calls: int
    opened_at: datetime | None
    next_probe_at: datetime | None
    open_count: int
    current_reset_timeout: float
    forced: bool
    fleet: str = ""  # the standing fleet command that forces it, described
    opened_by: str = ""  # while not closed: what opened it (its failure figures are those then)
    next_probe_due: bool = False  # the next probe may go now (the next request sends it)


@dataclass
class FleetStatus:
    """The fleet control channel as this process sees it (``fleet.py``)."""

    poll_seconds: float
    synced: bool
    error: str | None
    standing: list[Any]  # fleet.Command, force-opens still in force
    recent: list[Any]  # fleet.Command, newest first
    recent_error: str | None = None


@dataclass
class PolicyRow:
    name: str
    rate: str
    algorithm: str
    key: str
    fail_mode: str
    methods: list[str]
    paths: list[str]
    exempt_paths: list[str]
    critical: bool
    block: bool
    fallback_rate: str
    origin: str  # "settings" or "inline"


@dataclass
class Snapshot:
    host: str
    pid: int
    generated_at: datetime
    redis: RedisStatus
    fallback: FallbackStatus
    breakers: list[BreakerRow]
    policies: list[PolicyRow]
    top_clients: list[top_clients.TopClient]
    events: list[Any]
    events_error: str | None
    fleet: FleetStatus | None = None
    # issue #15: runtime overrides in force (ops/overrides.py), as dicts; and a read error.
    overrides: list[dict[str, Any]] = field(default_factory=list)
    overrides_error: str | None = None
    processes: list[reports.ProcessRow] = field(default_factory=list)  # every live one
    processes_error: str | None = None
    local_denials: LocalDenialsStatus | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.fleet is not None:
            data["fleet"]["standing"] = [_command_json(c) for c in self.fleet.standing]
            data["fleet"]["recent"] = [_command_json(c) for c in self.fleet.recent]
        data["events"] = [
            {
                "time": e.time.isoformat(),
                "host": e.host,
                "pid": e.pid,
                "scope": e.scope,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "reason": e.reason,
            }
            for e in self.events
        ]
        data["fallback"]["fill_percent"] = self.fallback.fill_percent
        for process, row in zip(self.processes, data["processes"], strict=True):
            row["fill_percent"] = process.fill_percent
        return _jsonable(data)  # type: ignore[no-any-return]


def _command_json(command: Any) -> dict[str, Any]:
    return {**asdict(command), "description": command.describe()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def breaker_rows() -> list[BreakerRow]:
    breakers = all_breakers()
    # The configured alias always has a row, even before its first request in this process.
    alias = guard_settings().cache_alias
    if alias not in breakers:
        breakers[alias] = get_breaker(alias)
    rows = []
    for scope in sorted(breakers):
        s = breakers[scope].snapshot()
        command = fleet.effective(scope)
        reported = reports.breaker_report(s)  # an open breaker's figures: those that opened it
        rows.append(
            BreakerRow(
                scope=s.scope,
                state=s.state.value,
                consecutive_failures=reported["consecutive_failures"],
                recent_failures=reported["recent_failures"],
                recent_calls=reported["recent_calls"],
                opened_by=reported["opened_by"],
                next_probe_due=s.next_probe_at is not None and s.next_probe_at <= time.time(),
                opened_at=_epoch(s.opened_at),
                next_probe_at=_epoch(s.next_probe_at),
                open_count=s.open_count,
                current_reset_timeout=s.current_reset_timeout,
                forced=s.forced,
                fleet=command.describe()
                if command is not None and command.action == fleet.FORCE_OPEN
                else "",
            )
        )
    return rows


def fleet_status() -> FleetStatus:
    """Apply pending fleet commands here first (this is not the request path), then report."""
    fleet.sync()
    recent, recent_error = fleet.recent(10)
    return FleetStatus(
        poll_seconds=guard_settings().control.poll_seconds,
        synced=fleet.is_synced(),
        error=fleet.last_error(),
        standing=fleet.standing(),
        recent=recent,
        recent_error=recent_error,
    )


def fallback_status() -> FallbackStatus:
    store = fallback_store()
    evictions = dict(store.evictions)
    entries = store.live_entries()  # expired entries are free room
    metrics.refresh_fallback(entries, store.capacity, evictions)
    return FallbackStatus(entries, store.capacity, evictions, guard_settings().fallback.warn_ratio)


def local_denials_status() -> LocalDenialsStatus:
    memory = answer_memory()
    return LocalDenialsStatus(
        guard_settings().local_denials, local.denied_total, len(memory), memory.capacity
    )


def policy_rows() -> list[PolicyRow]:
    configured = guard_settings().policies
    return [
        _policy_row(p, "settings" if name in configured else "inline")
        for name, p in sorted(registry.all_policies().items())
    ]


def _policy_row(p: Policy, origin: str) -> PolicyRow:
    rate = p.rate_text or (
        str(p.rate) if not callable(p.rate) else getattr(p.rate, "__qualname__", "callable")
    )
    return PolicyRow(
        name=p.name,
        rate=rate,
        algorithm=p.algorithm.value,
        key=p.key.spec,
        fail_mode=p.fail_mode.value,
        methods=sorted(p.methods) if p.methods else [],
        paths=list(p.paths),
        exempt_paths=list(p.exempt_paths),
        critical=p.critical,
        block=p.block,
        fallback_rate=str(p.fallback_rate) if p.fallback_rate else "",
        origin=origin,
    )


def probe_redis(with_top_clients: bool = True) -> tuple[RedisStatus, list[top_clients.TopClient]]:
    config = guard_settings()
    status = RedisStatus(alias=config.cache_alias, reachable=False)
    try:
        client = decide.redis_store().client
        started = time.perf_counter()
        status.commands += 1
        client.ping()
    except Exception as exc:
        status.error = f"{classify(exc)}: {exc}"[:300]
        return status, []
    status.rtt_ms = round((time.perf_counter() - started) * 1000, 3)
    status.reachable = True

    def details(store: Any) -> list[Any]:
        pipe = store.client.pipeline(transaction=False)
        pipe.info("server", "memory")
        if with_top_clients:
            top_clients.read_commands(pipe, config.key_prefix, time.time())
        return list(pipe.execute())

    def failed(error: Exception) -> None:
        status.error = f"{classify(error)}: {error}"[:300]

    replies = decide.redis_call(details, failed)
    if isinstance(replies, guarded.Unavailable):
        status.error = status.error or "the circuit breaker is open: details were not asked for"
        return status, []
    status.commands += 3 if with_top_clients else 1
    info = replies[0]
    status.version = str(info.get("redis_version", ""))
    status.used_memory = info.get("used_memory")
    status.used_memory_human = str(info.get("used_memory_human", ""))
    return status, top_clients.parse(replies[1:]) if with_top_clients else []


def override_rows() -> tuple[list[dict[str, Any]], str | None]:
    """The rules in force (issue #15), each marked with whether its policy still exists."""
    try:
        rows = overrides.active_rows()
    except Exception as exc:
        return [], f"{type(exc).__name__}: {exc}"[:300]
    known = registry.all_policies()
    return [
        {
            **overrides.to_json(row),
            "created_by": row.created_by,
            "known_policy": row.policy in known,
        }
        for row in rows
    ], None


def collect(*, report_self: bool = True) -> Snapshot:
    """Everything the page shows. ``report_self``: write this process's report first, so its row
    in the fleet view is current (a worker serving the admin page); the ``status`` command, not a
    worker, does not report itself."""
    fleet_state = fleet_status()
    override_list, overrides_error = override_rows()
    redis_status, clients = probe_redis()
    rows = breaker_rows()
    recent, events_error = events.recent()
    if report_self:
        reports.heartbeat(force=True)
    processes, processes_error = reports.live()
    return Snapshot(
        host=socket.gethostname(),
        pid=os.getpid(),
        generated_at=datetime.now(timezone.utc),
        redis=redis_status,
        fallback=fallback_status(),
        breakers=rows,
        policies=policy_rows(),
        top_clients=clients,
        events=recent,
        events_error=events_error,
        fleet=fleet_state,
        overrides=override_list,
        overrides_error=overrides_error,
        processes=processes,
        processes_error=processes_error,
        local_denials=local_denials_status(),
    )
