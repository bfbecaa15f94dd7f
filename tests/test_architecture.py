"""The rules of docs/architecture.md that the import contract (``lint-imports``) cannot express,
read from the AST of the package's modules (nothing is imported):

- ``core`` imports nothing from ``django.db``, ``django.conf``, ``redis`` or ``django_redis``:
  the domain stays testable without the ORM, the settings or a Redis client (import-linter's
  ``forbidden`` contract cannot name Django's submodules);
- every import inside a function carries ``# noqa: PLC0415`` and a comment saying why, so the rule
  "no imports inside functions" cannot erode one silent exception at a time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "django_ratelimit_guard"
CORE_FORBIDDEN = ("django.db", "django.conf", "redis", "django_redis")


def modules(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "migrations" not in path.parts)


def imported_names(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, dotted name) of everything a module imports, anywhere in it: ``from django import
    conf`` names ``django.conf``. Relative imports stay inside the package and are skipped."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def forbidden_imports(source: str, forbidden: tuple[str, ...] = CORE_FORBIDDEN) -> list[str]:
    return [
        f"line {line}: {name}"
        for line, name in imported_names(ast.parse(source))
        if any(name == banned or name.startswith(f"{banned}.") for banned in forbidden)
    ]


def function_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement inside a function (once, however deeply the functions nest)."""
    found: dict[int, ast.Import | ast.ImportFrom] = {}
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    found[id(node)] = node
    return sorted(found.values(), key=lambda node: node.lineno)


def unjustified_imports(source: str) -> list[str]:
    """Imports inside functions without ``# noqa: PLC0415`` on the statement, or without a reason:
    a comment right above it, or words after the noqa codes."""
    lines = source.splitlines()
    problems = []
    for node in function_imports(ast.parse(source)):
        statement = lines[node.lineno - 1 : node.end_lineno]
        noqa = next((line for line in statement if "# noqa:" in line), None)
        codes = noqa.split("# noqa:", 1)[1] if noqa else ""
        if "PLC0415" not in codes:
            problems.append(f"line {node.lineno}: no '# noqa: PLC0415'")
            continue
        trailing = codes.split("PLC0415", 1)[1].strip(" ,")
        above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
        if not trailing and not (above.startswith("#") and len(above) > 1):
            problems.append(f"line {node.lineno}: '# noqa: PLC0415' without a reason")
    return problems


def relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_the_core_imports_neither_the_orm_nor_the_settings_nor_a_redis_client():
    core = modules(PACKAGE / "core")
    assert len(core) >= 8  # the rule is read from every core module, not from none
    breaches = {
        relative(path): found
        for path in core
        if (found := forbidden_imports(path.read_text(encoding="utf-8")))
    }
    assert breaches == {}


def test_every_import_inside_a_function_says_why_it_is_there():
    breaches = {
        relative(path): found
        for path in modules(PACKAGE)
        if (found := unjustified_imports(path.read_text(encoding="utf-8")))
    }
    assert breaches == {}


@pytest.mark.parametrize(
    "source",
    [
        "from django.conf import settings\n",
        "from django import conf\n",
        "from django.db.models import Q\n",
        "import redis.asyncio\n",
        "import django_redis\n",
        "def f():\n    from django_redis import get_redis_connection  # noqa: PLC0415\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from django.db import models\n",
    ],
)
def test_the_core_rule_catches_each_forbidden_import(source):
    assert forbidden_imports(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from django.http import HttpRequest\n",
        "from django.core.exceptions import ImproperlyConfigured\n",
        "import redistribute\n",
        "from . import conf\n",
    ],
)
def test_the_core_rule_lets_the_rest_through(source):
    assert forbidden_imports(source) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    import json\n", "no '# noqa: PLC0415'"),
        ("def f():\n    import json  # noqa: F401\n", "no '# noqa: PLC0415'"),
        ("def f():\n    x = 1\n    import json  # noqa: PLC0415\n", "without a reason"),
        ("class A:\n    def f(self):\n        import json  # noqa: PLC0415\n", "without a reason"),
        (
            "async def f():\n    def g():\n        import json  # noqa: PLC0415\n",
            "without a reason",
        ),
    ],
)
def test_the_function_import_rule_catches_a_missing_noqa_or_reason(source, expected):
    (problem,) = unjustified_imports(source)
    assert expected in problem


@pytest.mark.parametrize(
    "source",
    [
        "import json\n",
        "def f():\n    # optional dependency\n    import json  # noqa: PLC0415\n",
        "def f():\n    import json  # noqa: PLC0415  (optional dependency)\n",
        "def f():\n    # Optional: the extra may be missing.\n"
        "    from json import (  # noqa: F401, PLC0415\n        dumps,\n    )\n",
    ],
)
def test_the_function_import_rule_accepts_a_justified_import(source):
    assert unjustified_imports(source) == []
