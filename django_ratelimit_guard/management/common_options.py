"""Django's common command options (``--settings``, ``--pythonpath``, ``-v``, ``--traceback``,
``--no-color``, ``--force-color``, ``--skip-checks``) after a subcommand.

``BaseCommand`` adds them to the command's own parser; argparse hands everything after a
subcommand to that subcommand's parser, which does not know them (``manage.py ratelimit_guard
status --settings mysite.x`` failed: "unrecognized arguments"). Each subparser accepts them too,
with ``SUPPRESS`` defaults, so that an option given before the subcommand is not overwritten when
it is absent after it.
"""

from __future__ import annotations

from argparse import SUPPRESS, ArgumentParser
from typing import Any

COMMON_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("-v", "--verbosity"), {"type": int, "choices": [0, 1, 2, 3]}),
    (("--settings",), {}),
    (("--pythonpath",), {}),
    (("--traceback",), {"action": "store_true"}),
    (("--no-color",), {"action": "store_true"}),
    (("--force-color",), {"action": "store_true"}),
    (("--skip-checks",), {"action": "store_true"}),
)


def accept_common_options(parser: ArgumentParser) -> None:
    """Let ``parser`` (a subcommand's) accept Django's common options, as the command does."""
    for flags, kwargs in COMMON_OPTIONS:
        parser.add_argument(*flags, default=SUPPRESS, help=SUPPRESS, **kwargs)


__all__ = ["COMMON_OPTIONS", "accept_common_options"]
