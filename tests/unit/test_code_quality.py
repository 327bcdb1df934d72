"""The code passes the checks STYLE.md holds it to: ruff and mypy, configured in pyproject.toml.

Both run as subprocesses of this interpreter, as a developer would run them, so a failure
shows their own report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# bench/ is a separate harness, not held to these checks.
RUFF_EXCLUDE = "bench"


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def _packages() -> dict[str, str]:
    """Top-level package name -> its directory, from [tool.setuptools.package-dir]."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir = pyproject["tool"]["setuptools"]["package-dir"]
    return {name: path for name, path in package_dir.items() if "." not in name}


def test_ruff_reports_no_problem_in_the_repository() -> None:
    code, output = _run("ruff", "check", "--no-cache", "--extend-exclude", RUFF_EXCLUDE, ".")
    assert code == 0, output


def test_mypy_reports_no_problem_in_the_packages() -> None:
    packages = _packages()
    assert {"shipsync", "shipsync_bigcommerce", "shipsync_starshipit"} <= packages.keys()
    # mypy cannot follow the editable install's import hook: link each package directory under
    # its package name instead. Outside pytest's temporary directory, which the suite's secret
    # scan reads, and the cache with it.
    with tempfile.TemporaryDirectory(prefix="shipsync-mypy-") as scratch:
        links = Path(scratch) / "packages"
        links.mkdir()
        for name, directory in packages.items():
            (links / name).symlink_to(ROOT / directory, target_is_directory=True)
        command = ["mypy", "--config-file", str(ROOT / "pyproject.toml"),
                   "--cache-dir", str(Path(scratch) / "cache")]
        for name in packages:
            command += ["-p", name]
        code, output = _run(*command, env={**os.environ, "MYPYPATH": str(links)})
        for name, directory in packages.items():
            output = output.replace(f"{links / name}{os.sep}", f"{directory}/")
    assert code == 0, output
    assert "no issues found" in output, output
