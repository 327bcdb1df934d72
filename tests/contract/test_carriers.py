"""The tracking carriers shipsync sends BigCommerce are values BigCommerce lists.

``shipsync_bigcommerce.carriers`` maps Starshipit's carrier codes to BigCommerce
``tracking_carrier`` values; BigCommerce accepts the slugs of its
tracking_carrier_values.csv (shared/specs/bigcommerce, a copy of bigcommerce/docs).
"""

from __future__ import annotations

import csv

from shipsync_bigcommerce.carriers import TRACKING_CARRIERS, tracking_carrier
from shipsync_starshipit.mapping import CARRIER_NAMES

from .openapi import require_specs, shared_dir

require_specs()  # skipped with a reason on a clone without the vendor files

CSV = shared_dir() / "specs" / "bigcommerce" / "tracking_carrier_values.csv"


def _rows() -> list[list[str]]:
    with CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Tracking Carrier – Company Name", "Tracking Carrier – Value"]
    return rows[1:]


def _values() -> dict[str, str]:
    return {row[1].strip(): row[0].strip() for row in _rows() if len(row) == 2}


def test_the_csv_is_the_list_the_fact_sheet_describes() -> None:
    assert len(_rows()) == 913  # the 2022 snapshot, 913 carriers (some share a value)
    values = _values()
    assert values["australia-post"] == "Australia Post"
    assert "royal-mail" not in values  # so Royal Mail gets "" (the fact sheet's note)


def test_every_tracking_carrier_shipsync_sends_is_a_value_of_the_csv() -> None:
    values = _values()
    unknown = {code: slug for code, slug in TRACKING_CARRIERS.items() if slug not in values}
    assert unknown == {}


def test_carriers_starshipit_names_map_to_a_value_or_to_nothing() -> None:
    values = _values()
    for code in CARRIER_NAMES:
        slug = tracking_carrier(code)
        assert slug == "" or slug in values, (code, slug)
    assert tracking_carrier("PickupInStore") == "" and tracking_carrier("RoyalMail") == ""
