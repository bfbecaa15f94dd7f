"""``manage.py ratelimit_guard``: the status page's facts and actions from a shell.

Exit codes (scripts may rely on them):

* 0 — done; for ``status`` and ``check-redis``: Redis answered and no breaker is open.
* 1 — the store is unavailable or degraded: Redis unreachable, the script failed to load, a
  breaker not closed, or a reset that could not reach Redis.
* 2 — usage error: unknown subcommand, policy or scope, or a malformed key value.

``reset-breaker``, ``force-open`` and ``clear-fallback`` are fleet commands: recorded in the
database and applied by every worker process (``fleet.py``); ``--this-process`` acts on the
command's own process only (the old behaviour, rarely useful: it is not a worker). A fleet
command that cannot be recorded (database down) exits 1.
"""

from __future__ import annotations

import getpass
import json
import socket
import statistics
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_ratelimit_guard.core.exceptions import ActionError
from django_ratelimit_guard.engine import decide
from django_ratelimit_guard.management import overrides
from django_ratelimit_guard.management.common_options import accept_common_options
from django_ratelimit_guard.management.process_lines import process_lines
from django_ratelimit_guard.ops import actions, status
from django_ratelimit_guard.stores import scripts
from django_ratelimit_guard.stores.errors import classify

EXIT_DEGRADED = 1
EXIT_USAGE = 2


class Command(BaseCommand):
    help = (
        "Rate limit guard: status, reset-key <policy> <key>, reset-breaker <scope>, "
        "force-open <scope> --reason ..., clear-fallback, check-redis, override add|list|remove."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        st = sub.add_parser(
            "status", help="Redis, fallback store, breakers, policies, recent events."
        )
        st.add_argument("--json", action="store_true", help="Print one JSON document.")
        rk = sub.add_parser("reset-key", help="Clear one client's counter of a policy.")
        rk.add_argument("policy")
        rk.add_argument("key", help="The raw key value, e.g. the client IP for key='ip'.")
        rb = sub.add_parser(
            "reset-breaker", help="Close a circuit breaker in every process (a fleet command)."
        )
        rb.add_argument("scope", help="A breaker scope (the cache alias), or * for all.")
        fo = sub.add_parser(
            "force-open",
            help="Keep a circuit breaker open in every process until reset-breaker (maintenance).",
        )
        fo.add_argument("scope", help="A breaker scope (the cache alias), or * for all.")
        fo.add_argument("--reason", default="maintenance", help="Shown on the status page.")
        cf = sub.add_parser(
            "clear-fallback", help="Empty the in-memory fallback store of every process."
        )
        for p in (rb, fo, cf):
            p.add_argument(
                "--this-process",
                action="store_true",
                help="Act on this command's own process only, not the fleet.",
            )
            p.add_argument("--by", default="", help="Who issues it (default: the OS user).")
        cr = sub.add_parser("check-redis", help="Round-trip time, script load, server version.")
        cr.add_argument("--json", action="store_true", help="Print one JSON document.")
        overrides.add_parser(sub)  # issue #15: override add | list | remove
        for p in sub.choices.values():
            accept_common_options(p)

    def handle(self, *args: Any, **options: Any) -> None:
        sub = options["subcommand"]
        if sub == "status":
            self._status(options["json"])
        elif sub == "check-redis":
            self._check_redis(options["json"])
        else:
            try:
                if sub == "reset-key":
                    message = actions.reset_client(
                        options["policy"], key_value=options["key"], by=_os_user()
                    )
                elif sub == "override":  # issue #15
                    overrides.handle(options, self.stdout.write, _os_user())
                    return
                else:
                    message = self._fleet_action(sub, options)
            except ActionError as exc:
                code = EXIT_DEGRADED if exc.unavailable else EXIT_USAGE
                raise CommandError(str(exc), returncode=code) from exc
            self.stdout.write(message)

    def _fleet_action(self, sub: str, options: dict[str, Any]) -> str:
        fleet_wide = not options["this_process"]
        by = options["by"] or _os_user()
        if sub == "reset-breaker":
            return actions.reset_breaker(options["scope"], by=by, fleet_wide=fleet_wide)
        if sub == "force-open":
            reason = options["reason"].strip()[:100] or "maintenance"
            return actions.force_open(options["scope"], reason, by=by, fleet_wide=fleet_wide)
        return actions.clear_fallback(by=by, fleet_wide=fleet_wide)

    def _status(self, as_json: bool) -> None:
        snap = status.collect(report_self=False)  # this command is not a worker
        degraded = not snap.redis.reachable or any(b.state != "closed" for b in snap.breakers)
        if as_json:
            self.stdout.write(json.dumps(snap.to_json(), indent=2))
        else:
            self._status_table(snap)
            self.stdout.write("")
            self.stdout.write("\n".join(process_lines(snap.processes, snap.processes_error)))
        if degraded:
            raise CommandError("The rate-limit store is degraded.", returncode=EXIT_DEGRADED)

    def _status_table(self, snap: status.Snapshot) -> None:
        w = self.stdout.write
        w(
            f"This process (the command's own, not a worker): host {snap.host}, pid {snap.pid}, "
            f"{snap.generated_at:%Y-%m-%d %H:%M:%S} UTC. Every live worker is listed at the end."
        )
        r = snap.redis
        if r.reachable:
            w(
                f"Redis ({r.alias}): reachable, rtt {r.rtt_ms} ms, version {r.version}, "
                f"memory {r.used_memory_human}"
            )
        else:
            w(f"Redis ({r.alias}): UNREACHABLE ({r.error})")
        self._fleet_lines(snap)
        overrides.status_lines(snap, w)  # issue #15
        f = snap.fallback
        evictions = ", ".join(f"{k}={v}" for k, v in f.evictions.items()) or "none"
        w(
            f"Fallback store: {f.entries}/{f.capacity} entries ({f.fill_percent}%), "
            f"evictions: {evictions}"
        )
        ld = snap.local_denials
        if ld is not None:
            w(
                f"Local denials: {'on' if ld.enabled else 'off'}, {ld.denied} denied without "
                f"Redis; {ld.remembered}/{ld.capacity} Redis answers remembered"
            )
        w("")
        self._table(
            ["scope", "state", "failures", "opened at", "next probe", "opens"],
            [
                [
                    b.scope,
                    b.state
                    + (" (forced)" if b.forced else "")
                    + (f" — fleet: {b.fleet}" if b.fleet else ""),
                    f"{b.recent_failures}/{b.recent_calls}",
                    _time(b.opened_at),
                    "due" if b.next_probe_due else _time(b.next_probe_at),
                    str(b.open_count),
                ]
                for b in snap.breakers
            ],
        )
        w("")
        self._table(
            ["policy", "rate", "algorithm", "key", "fail mode", "paths", "critical"],
            [
                [
                    p.name,
                    p.rate,
                    p.algorithm,
                    p.key,
                    p.fail_mode,
                    ",".join(p.paths) or "-",
                    "yes" if p.critical else "no",
                ]
                for p in snap.policies
            ],
        )
        if snap.top_clients:
            w("")
            self._table(
                ["policy", "client", "label", "limited"],
                [[c.policy, c.digest, c.label or "-", str(c.count)] for c in snap.top_clients],
            )
        if snap.events_error:
            w(f"\nBreaker events could not be read: {snap.events_error}")
        if snap.events:
            w("")
            self._table(
                ["time", "scope", "from", "to", "reason", "host:pid"],
                [
                    [
                        f"{e.time:%Y-%m-%d %H:%M:%S}",
                        e.scope,
                        e.from_state,
                        e.to_state,
                        e.reason,
                        f"{e.host}:{e.pid}",
                    ]
                    for e in snap.events[:20]
                ],
            )

    def _fleet_lines(self, snap: status.Snapshot) -> None:
        fleet = snap.fleet
        if fleet is None:
            return
        w = self.stdout.write
        if fleet.error:
            w(f"Fleet commands: could not be read ({fleet.error})")
        for c in fleet.standing:
            target = "every breaker" if c.scope == "*" else f"breaker {c.scope}"
            w(f"Fleet: {target} {c.describe()} (command #{c.id})")
        if not fleet.standing and not fleet.error:
            w("Fleet: no standing force-open")

    def _table(self, header: list[str], rows: list[list[str]]) -> None:
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
        for row in [header, *rows]:
            cells = (str(c).ljust(n) for c, n in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())

    def _check_redis(self, as_json: bool) -> None:
        report: dict[str, Any] = {"alias": decide.redis_store().scope, "ok": False}
        try:
            client = decide.redis_store().client
            rtts = []
            for _ in range(5):
                started = time.perf_counter()
                client.ping()
                rtts.append((time.perf_counter() - started) * 1000)
            report["rtt_ms_median"] = round(statistics.median(rtts), 3)
            sha = client.script_load(scripts.DECIDE.lua)
            sha = sha.decode() if isinstance(sha, bytes) else sha
            report["script_loaded"] = sha == scripts.DECIDE.sha
            report["server_version"] = str(client.info("server").get("redis_version", ""))
            report["ok"] = report["script_loaded"]
        except Exception as exc:  # any failure is the answer, reported with its kind
            report["error"] = f"{classify(exc)}: {exc}"
        if as_json:
            self.stdout.write(json.dumps(report, indent=2))
        elif report["ok"]:
            self.stdout.write(
                f"Redis ({report['alias']}): OK — rtt {report['rtt_ms_median']} ms (median of 5), "
                f"script loaded, version {report['server_version']}"
            )
        if not report["ok"]:
            raise CommandError(
                f"Redis ({report['alias']}) check failed: "
                f"{report.get('error', 'script sha mismatch')}",
                returncode=EXIT_DEGRADED,
            )


def _time(value: Any) -> str:
    return "-" if value is None else f"{value:%H:%M:%S}"


def _os_user() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in a container
        user = "unknown"
    return f"{user}@{socket.gethostname()} (manage.py)"
