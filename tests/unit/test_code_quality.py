"""The code passes the checks STYLE.md holds it to: ruff and mypy, configured in pyproject.toml.

Both run as subprocesses of this interpreter, as a developer would run them (``ruff check .``
and ``mypy``, with no arguments: pyproject.toml says what to check), so a failure shows their
own report.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# bench/ is a separate harness, not held to these checks.
RUFF_EXCLUDE = "bench"


def _run(*args: str) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def test_ruff_reports_no_problem_in_the_repository() -> None:
    code, output = _run("ruff", "check", "--no-cache", "--extend-exclude", RUFF_EXCLUDE, ".")
    assert code == 0, output


def test_mypy_reports_no_problem_and_holds_the_core_to_strict() -> None:
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["strict"] is True
    assert set(mypy["packages"]) == {"shipsync", "shipsync_bigcommerce", "shipsync_starshipit"}
    # The cache outside pytest's temporary directory, which the suite's secret scan reads.
    with tempfile.TemporaryDirectory(prefix="shipsync-mypy-") as scratch:
        code, output = _run("mypy", "--cache-dir", str(Path(scratch) / "cache"))
    assert code == 0, output
    assert "no issues found" in output, output


def test_the_engine_test_fakes_keep_the_source_and_sink_contracts() -> None:
    """tests/core/engine_fakes.py is written against shipsync.contracts: mypy holds it there."""
    with tempfile.TemporaryDirectory(prefix="shipsync-mypy-") as scratch:
        code, output = _run("mypy", "--strict", "--cache-dir", str(Path(scratch) / "cache"),
                            "tests/core/engine_fakes.py")
    assert code == 0, output


def test_the_core_names_no_platform_outside_docstring_examples() -> None:
    """Platform facts live in their plugins; core/ may name a platform only as an example."""
    offenders = []
    for path in sorted((ROOT / "core").rglob("*")):
        if not path.is_file() or path.suffix not in (".py", ".json", ".toml", ".md", ".txt",
                                                      ".j2", ".tmpl", ".html", ".css"):
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            text = _without_docstrings(text)
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"bigcommerce|starshipit", line, re.IGNORECASE):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "\n".join(offenders)


def _without_docstrings(source: str) -> str:
    """The source with every docstring blanked (line numbers kept)."""
    import ast

    tree = ast.parse(source)
    lines = source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(
                    body[0].value.value, str):
                first, last = body[0].lineno, body[0].end_lineno or body[0].lineno
                for index in range(first - 1, last):
                    lines[index] = ""
    return "\n".join(lines)
