"""``manage.py ratelimit_guard override add | list | remove`` (issue #15): the parser and the
handlers, kept beside the command so that its module stays one screen.

::

    override add POLICY KEY (--block | --allow | --rate RATE) [--for DURATION] [--reason TEXT]
    override list [--json]
    override remove ID

KEY is the raw key value (the client address for ``key="ip"``), validated and normalized for the
policy's key kind as ``reset-key`` does. Exit codes as the command's: 2 for a usage error (unknown
policy, malformed key, rate or duration, unknown id), 1 when the database could not be written.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser, _SubParsersAction
from typing import Any

from django_ratelimit_guard.core.exceptions import ActionError
from django_ratelimit_guard.engine.overrides import ALLOW, BLOCK, RATE
from django_ratelimit_guard.ops import overrides


def add_parser(sub: _SubParsersAction[ArgumentParser]) -> None:
    parser = sub.add_parser("override", help="Runtime rules for one client of one policy.")
    commands = parser.add_subparsers(dest="override_command", required=True, metavar="command")
    add = commands.add_parser("add", help="Block, exempt or re-rate one client of a policy.")
    add.add_argument("policy")
    add.add_argument("key", help="The raw key value, e.g. the client IP for key='ip'.")
    action = add.add_mutually_exclusive_group(required=True)
    action.add_argument("--block", action="store_const", const=BLOCK, dest="action")
    action.add_argument("--allow", action="store_const", const=ALLOW, dest="action")
    action.add_argument("--rate", metavar="RATE", help="This client's own rate, e.g. 1000/m.")
    add.add_argument("--for", dest="duration", metavar="DURATION", help="90s, 30m, 1h, 7d.")
    add.add_argument("--reason", default="", help="Shown in the admin and on the status page.")
    add.add_argument("--by", default="", help="Who adds it (default: the OS user).")
    listing = commands.add_parser("list", help="The rules in force.")
    listing.add_argument("--json", action="store_true", help="Print a JSON list.")
    remove = commands.add_parser("remove", help="Remove one rule by its id.")
    remove.add_argument("id", type=int)


def handle(options: dict[str, Any], write: Any, by: str) -> None:
    """Run one ``override`` subcommand; ``ActionError`` for the caller to turn into an exit."""
    command = options["override_command"]
    if command == "list":
        _list(options["json"], write)
    elif command == "remove":
        row = overrides.remove(options["id"])
        write(
            f"Override #{options['id']} ({row.action} on {row.policy!r} for client "
            f"{overrides.digest(row.key)}) was removed; every worker drops it within its next "
            "poll."
        )
    else:
        _add(options, write, by)


def _add(options: dict[str, Any], write: Any, by: str) -> None:
    action = options["action"] or RATE
    duration = overrides.parse_duration(options["duration"]) if options["duration"] else None
    row, replaced = overrides.add(
        options["policy"],
        options["key"],
        action,
        rate=options["rate"] or "",
        duration=duration,
        reason=options["reason"].strip(),
        by=options["by"] or by,
    )
    what = {BLOCK: "blocked", ALLOW: "exempted"}.get(action, f"limited to {row.rate}")
    until = f"until {row.expires_at:%Y-%m-%d %H:%M:%S} UTC" if row.expires_at else "until removed"
    write(
        f"Override #{row.pk}{' (replacing the previous rule)' if replaced else ''}: client "
        f"{row.key!r} (digest {overrides.digest(row.key)}) is {what} on policy {row.policy!r} "
        f"{until}; every worker applies it within its next poll."
    )


def _list(as_json: bool, write: Any) -> None:
    try:
        rows = overrides.active_rows()
    except Exception as exc:
        raise ActionError(f"The rules could not be read: {exc}.", unavailable=True) from exc
    if as_json:
        write(json.dumps([overrides.to_json(row) for row in rows], indent=2))
        return
    if not rows:
        write("No override is in force.")
        return
    for row in rows:
        until = f"{row.expires_at:%Y-%m-%d %H:%M:%S} UTC" if row.expires_at else "never"
        rate = f" {row.rate}" if row.rate else ""
        write(
            f"#{row.pk}  {row.policy}  {row.key}  {row.action}{rate}  expires {until}  "
            f"{row.reason or '-'}  (by {row.created_by or '?'})"
        )


def status_lines(snap: Any, write: Any) -> None:
    """The rules in force, for ``status`` (one line each)."""
    if snap.overrides_error:
        write(f"Overrides: could not be read ({snap.overrides_error})")
    for rule in snap.overrides:
        rate = f" {rule['rate']}" if rule["rate"] else ""
        unknown = "" if rule["known_policy"] else " (no such policy: not applied)"
        write(
            f"Override #{rule['id']}: {rule['action']}{rate} {rule['key']} on {rule['policy']}"
            f"{unknown}, expires {rule['expires_at'] or 'never'}"
        )


__all__ = ["add_parser", "handle", "status_lines"]
