"""Tests of shipsync-hscodes, with the fixtures that come with shipsync (shipsync.testing).

Run them with the plugin installed (``pip install -e '.[test]'``): the CLI
tests run the real ``shipsync`` command against the BigCommerce and Starshipit
emulators, and shipsync loads the plugin from its entry point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from shipsync.sandboxes import SandboxSet
from shipsync.testing import CliResult, MapperConformance, canonical_orders, write_config
from shipsync_hscodes.mapping import apply_table
from shipsync_hscodes.table import Customs, TableError, parse_table

TABLE = """\
sku,tariff_code,country_of_origin
TEE-XL-NAVY,6109.10,pt
MUG-CAFÉ,,CN
BOOT-42,6403.99,IT
"""


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """Empty stores, no rate limits: each test adds exactly the orders it is about."""
    return {"orders": 0, "seed": 1,
            "per_sandbox": {"bigcommerce": {"rate_limit": None},
                            "starshipit": {"rate_limit": None}}}


# --------------------------------------------------------------------------- the table


def test_table_rows_by_sku_with_country_upper_cased() -> None:
    table = parse_table(TABLE)

    assert table["TEE-XL-NAVY"] == Customs("6109.10", "PT")
    assert table["MUG-CAFÉ"] == Customs("", "CN")
    assert sorted(table) == ["BOOT-42", "MUG-CAFÉ", "TEE-XL-NAVY"]


def test_table_header_is_matched_without_case_and_extra_columns_are_ignored() -> None:
    table = parse_table("\ufeffSKU,Name,Tariff_Code,Country_of_Origin\nA-1,Apron,630259,LT\n")

    assert table == {"A-1": Customs("630259", "LT")}


def test_table_problems_are_reported_together_with_their_lines() -> None:
    text = "sku,tariff_code,country_of_origin\nA,61,AU\n,610910,AU\nB,610910,XX\nA,610910,AU\n"

    with pytest.raises(TableError) as caught:
        parse_table(text, name="codes.csv")

    message = str(caught.value)
    assert message.startswith("codes.csv: ")
    assert "line 2: tariff_code '61' of 'A' is not an HS code" in message
    assert "line 3: no SKU" in message
    assert "line 4: country_of_origin 'XX' of 'B'" in message
    assert "line 5: SKU 'A' is already on line 2" in message


def test_table_without_a_needed_column_is_refused() -> None:
    with pytest.raises(TableError, match="no country_of_origin column"):
        parse_table("sku,tariff_code\nA,610910\n")


# --------------------------------------------------------------------------- the mapping


def items(order: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["line_id"]: i for d in order["destinations"] for i in d["items"]}


def test_missing_fields_are_filled_and_present_ones_kept() -> None:
    [order] = [o for o in canonical_orders() if o["order_id"] == "1006"]
    table = {"BOOT-42": Customs("6403.99", "IT"), "SOCK-3P": Customs("6115.95", "")}

    mapped = items(apply_table(order, table))

    assert (mapped["12"]["tariff_code"], mapped["12"]["country_of_origin"]) == ("640299", "VN")
    assert mapped["13"]["tariff_code"] == "6115.95"
    assert "country_of_origin" not in mapped["13"]  # a blank cell fills nothing


def test_overwrite_replaces_what_the_order_had() -> None:
    [order] = [o for o in canonical_orders() if o["order_id"] == "1006"]

    mapped = items(apply_table(order, {"BOOT-42": Customs("6403.99", "IT")}, overwrite=True))

    assert (mapped["12"]["tariff_code"], mapped["12"]["country_of_origin"]) == ("6403.99", "IT")


class TestHSCodesConformance(MapperConformance):
    """The contract every mapper keeps: valid canonical orders, deterministic, no network."""

    mapper_name = "hscodes"

    @pytest.fixture
    def mapper_config(self, tmp_path: Path) -> dict[str, Any]:
        table = tmp_path / "hscodes.csv"
        table.write_text(TABLE, encoding="utf-8")
        return {"hscodes": {"table": str(table)}}


# --------------------------------------------------------------------------- the real CLI


def configure(sandboxes: SandboxSet, path: Path, hscodes: dict[str, Any]) -> dict[str, Any]:
    config = sandboxes.config(path.parent / "state.db")
    config["hscodes"] = hscodes
    write_config(path, config)
    return config


def test_plugin_is_listed_with_its_distribution(shipsync_cli: Callable[..., CliResult]) -> None:
    plugins = {p["name"]: p for p in shipsync_cli("plugins", "--json").json()["plugins"]}

    assert plugins["hscodes"]["distribution"] == "shipsync-hscodes"
    assert plugins["hscodes"]["components"]["mappers"] == ["hscodes"]
    assert plugins["hscodes"]["components"]["config_schemas"] == ["hscodes"]


def test_run_sends_codes_from_the_table_to_starshipit(
        sandboxes: SandboxSet, shipsync_config: Path,
        shipsync_cli: Callable[..., CliResult]) -> None:
    (shipsync_config.parent / "hscodes.csv").write_text(TABLE, encoding="utf-8")
    config = configure(sandboxes, shipsync_config, {"table": "hscodes.csv"})  # relative: cwd
    order = sandboxes.emulator("bigcommerce").add_order("main", products=[
        {"name": "Tee", "sku": "TEE-XL-NAVY", "product_id": 9001},
        {"name": "Poster", "sku": "POSTER-1", "product_id": 9002}])

    result = shipsync_cli("run", "bigcommerce", "--json")

    assert result.code == 0, result.stderr + result.stdout
    created = sandboxes.emulator("starshipit").get_order(config["starshipit"]["api_key"],
                                                         str(order["id"]))
    assert created is not None
    by_sku = {item["sku"]: item for item in created["items"]}
    assert (by_sku["TEE-XL-NAVY"]["tariff_code"], by_sku["TEE-XL-NAVY"]["country_of_origin"]) \
        == ("610910", "PT")
    assert not by_sku["POSTER-1"].get("tariff_code")
    assert not by_sku["POSTER-1"].get("country_of_origin")


def test_config_check_reports_a_bad_table_row(
        sandboxes: SandboxSet, shipsync_config: Path,
        shipsync_cli: Callable[..., CliResult]) -> None:
    (shipsync_config.parent / "hscodes.csv").write_text(TABLE + "BAD,12,AU\n", encoding="utf-8")
    configure(sandboxes, shipsync_config, {"table": "hscodes.csv"})

    result = shipsync_cli("config", "check", "--json")

    assert result.code == 2
    [problem] = result.json()["problems"]
    assert problem["path"] == "$.hscodes.table"
    assert "line 5: tariff_code '12' of 'BAD'" in problem["message"]


def test_section_without_a_table_is_a_config_error(
        sandboxes: SandboxSet, shipsync_config: Path,
        shipsync_cli: Callable[..., CliResult]) -> None:
    configure(sandboxes, shipsync_config, {"overwrite": True})

    result = shipsync_cli("run", "bigcommerce", "--json")

    assert result.code == 2
    assert "table" in result.stderr + result.stdout
