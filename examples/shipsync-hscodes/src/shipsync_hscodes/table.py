"""The CSV table: one row per SKU with its HS code and country of origin.

    sku,tariff_code,country_of_origin
    TEE-NAVY-M,6109.10,PT
    MUG-1,,CN

A blank cell leaves that field as the order has it. Columns are matched
without regard to case; other columns are ignored. Problems are reported all
at once, each with its line number.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from shipsync import records

__all__ = ["Customs", "TableError", "load_table", "parse_table"]

COLUMNS = ("sku", "tariff_code", "country_of_origin")
_HS_DIGITS = re.compile(r"^\d{6,12}$")


class TableError(ValueError):
    """The table cannot be used; the message lists every problem with its line."""


@dataclass(frozen=True)
class Customs:
    tariff_code: str = ""
    country_of_origin: str = ""


@lru_cache(maxsize=1)
def _country_code() -> Draft202012Validator:
    # The canonical order's own rule for country codes: what it accepts, the table may hold.
    schema = records.load_schema("order.json")
    return Draft202012Validator(schema["$defs"]["address"]["properties"]["country_code"])


def parse_table(text: str, name: str = "the table") -> dict[str, Customs]:
    """SKU -> Customs; raises TableError naming every bad line of ``name``."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a byte-order mark
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise TableError(f"{name}: the header has no {', '.join(missing)} column "
                         f"(expected: {','.join(COLUMNS)})")
    where = {column: header.index(column) for column in COLUMNS}
    table: dict[str, Customs] = {}
    first_seen: dict[str, int] = {}
    problems = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in where.items()}
        sku = cells["sku"]
        if not sku:
            problems.append(f"line {line}: no SKU")
            continue
        if sku in first_seen:
            problems.append(f"line {line}: SKU {sku!r} is already on line {first_seen[sku]}")
            continue
        first_seen[sku] = line
        tariff = cells["tariff_code"]
        if tariff and not _HS_DIGITS.match(re.sub(r"[.\s]", "", tariff)):
            problems.append(f"line {line}: tariff_code {tariff!r} of {sku!r} is not an HS code "
                            "(6 to 12 digits, dots allowed)")
        country = cells["country_of_origin"].upper()
        if country and not _country_code().is_valid(country):
            problems.append(f"line {line}: country_of_origin {cells['country_of_origin']!r} of "
                            f"{sku!r} is not an ISO 3166-1 alpha-2 code (e.g. AU, CN, PT)")
        table[sku] = Customs(tariff, country)
    if problems:
        raise TableError(f"{name}: " + "; ".join(problems))
    return table


def load_table(path: Path) -> dict[str, Customs]:
    """The table at ``path``, read again only when the file changes."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise TableError(f"cannot read the table {str(path)!r}: {exc.strerror or exc}") from None
    return _cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _cached(path: str, _mtime_ns: int, _size: int) -> dict[str, Customs]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TableError(f"cannot read the table {path!r}: {exc}") from None
    return parse_table(text, name=path)
