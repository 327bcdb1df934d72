"""The built-in plugins pass the conformance suites a third-party plugin runs against itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from shipsync.sandboxes import SandboxSet
from shipsync.testing import MapperConformance, SinkConformance, SourceConformance


class TestProductOptionsMapper(MapperConformance):
    mapper_name = "product-options"


class TestProductOptionsMapperWithMoreNames(MapperConformance):
    mapper_name = "product-options"

    @pytest.fixture
    def mapper_config(self) -> dict[str, Any]:
        return {"product_options": {"size": ["Talla"], "color": ["Farbe"]}}


class TestBigCommerceSource(SourceConformance):
    source_name = "bigcommerce"


class TestStarshipitSink(SinkConformance):
    sink_name = "starshipit"

    @pytest.fixture
    def sink_config(self, sandboxes: SandboxSet, tmp_path: Path) -> dict[str, Any]:
        config = sandboxes.config(tmp_path / "state.db")
        config["starshipit"]["rate_limit"] = 1000  # the sandbox has no limit: do not pace
        return config
