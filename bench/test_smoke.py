"""Benches that cannot rot: every script in bench/ runs with ``--smoke`` (tiny sizes, seconds) and
prints its figures. CI runs this (``tox -e bench``; ``.ci/run``); a new script is picked up
without being listed, and one without ``--smoke`` fails here.

    python -m pytest -p no:cacheprovider bench/test_smoke.py

Needs what the benches need: the ``bench`` and ``prometheus`` extras, redis-server, wrk (e2e,
flood) and valgrind (instructions).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPTS = sorted(p.name for p in HERE.glob("*.py") if not p.name.startswith(("_", "test_")))
#: Generous bounds for a shared 2-CPU machine; most scripts take a few seconds.
TIMEOUT = {"instructions.py": 600, "continuity.py": 300, "compare.py": 300}


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_bench_runs_with_tiny_sizes_and_prints_its_figures(script):
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "PYTHONWARNINGS": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # each bench configures Django itself
    done = subprocess.run(
        [sys.executable, str(HERE / script), "--smoke"],
        cwd=HERE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT.get(script, 180),
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    printed = done.stdout
    assert "|" in printed or "  " in printed, f"{script} printed no figures:\n{printed}"
