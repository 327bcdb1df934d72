"""Fixtures of the plugin tests: pip installs that are always undone."""

from __future__ import annotations

from typing import Iterator

import pytest
from plugin_kit import PipInstaller


@pytest.fixture(scope="session")
def pip_installer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipInstaller]:
    installer = PipInstaller(tmp_path_factory.mktemp("pip"))
    try:
        yield installer
    finally:
        installer.uninstall_all()
