"""People and places of the seeded orders.

Customers' names (some non-ASCII), emails and phones, companies, streets (and
one over-long street), ``COUNTRIES`` by ISO code, cities per country, and the
store's pickup locations.
"""

from __future__ import annotations

import random
import unicodedata
from typing import Any

__all__ = ["COUNTRIES"]

_FIRST = ("Olivia", "Jack", "Charlotte", "Noah", "Amelia", "William", "Isla", "Oliver", "Mia",
          "Liam", "Ava", "Lachlan", "Zoë", "José", "Søren", "François", "Łukasz", "Chloé",
          "Aroha", "Priya", "Wei", "太郎", "Björn", "Siobhán")
_LAST = ("Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Anderson",
         "Thompson", "Martin", "Müller", "García", "O'Brien", "Kowalski", "山田", "Núñez",
         "Ødegaard", "Singh", "Chen", "Patel", "Te Rangi", "Dubois")
_COMPANIES = ("", "", "", "", "Acme Pty Ltd", "Harbour Trading Co", "Müller & Söhne GmbH")
_STREETS = ("George St", "Collins St", "Queen St", "Hay St", "King William St", "Smith St",
            "Chapel St", "Oxford St", "Beach Rd", "Station St", "High St", "Elizabeth St")
_LONG_STREET = ("Unit 4, Level 12, Riverside Industrial Estate Building Complex C, "
                "{n} Extraordinarily Lengthy Boulevard of the Southern Highlands Business Park")

COUNTRIES: dict[str, str] = {
    "AU": "Australia", "NZ": "New Zealand", "US": "United States", "GB": "United Kingdom",
    "DE": "Germany", "JP": "Japan", "CA": "Canada", "FR": "France", "SG": "Singapore",
    "IE": "Ireland", "NL": "Netherlands", "ES": "Spain", "IT": "Italy", "CN": "China",
}
# (city, state (full name, as BigCommerce sends it), zip)
_PLACES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "AU": (("Sydney", "New South Wales", "2000"), ("Melbourne", "Victoria", "3000"),
           ("Brisbane", "Queensland", "4000"), ("Perth", "Western Australia", "6000"),
           ("Adelaide", "South Australia", "5000"), ("Hobart", "Tasmania", "7000"),
           ("Canberra", "Australian Capital Territory", "2600"),
           ("Darwin", "Northern Territory", "0800"), ("Wollongong", "New South Wales", "2500")),
    "NZ": (("Auckland", "Auckland", "1010"), ("Wellington", "Wellington", "6011"),
           ("Christchurch", "Canterbury", "8011")),
    "US": (("Austin", "Texas", "78751"), ("New York", "New York", "10001"),
           ("Portland", "Oregon", "97201")),
    "GB": (("London", "England", "SW1A 1AA"), ("Manchester", "England", "M1 1AE")),
    "DE": (("Berlin", "Berlin", "10115"), ("München", "Bayern", "80331")),
    "JP": (("千代田区", "Tokyo", "100-0001"), ("Osaka", "Osaka", "530-0001")),
    "CA": (("Toronto", "Ontario", "M5H 2N2"),),
    "FR": (("Paris", "Île-de-France", "75001"),),
    "SG": (("Singapore", "", "018956"),),
}
_ABROAD = ("NZ", "NZ", "NZ", "US", "US", "GB", "GB", "DE", "JP", "CA", "FR", "SG")

_LOCATIONS = (
    {"id": 1, "name": "Surry Hills Store", "code": "SYD-01", "address_line_1": "12 Crown St",
     "address_line_2": "", "city": "Surry Hills", "state": "New South Wales", "postal_code": "2010",
     "country_alpha2": "AU", "email": "surryhills@example.com", "phone": "02 9000 0001"},
    {"id": 2, "name": "Fitzroy Store", "code": "MEL-01", "address_line_1": "200 Brunswick St",
     "address_line_2": "Shop 3", "city": "Fitzroy", "state": "Victoria", "postal_code": "3065",
     "country_alpha2": "AU", "email": "fitzroy@example.com", "phone": "03 9000 0002"},
)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_text.lower() if c.isalnum())


def _person(rng: random.Random, order_id: int, non_ascii: bool) -> dict[str, str]:
    if non_ascii:
        first = rng.choice(("Zoë", "José", "Søren", "François", "Łukasz", "太郎", "Björn"))
        last = rng.choice(("Müller", "山田", "Núñez", "Ødegaard", "García", "Dubois"))
    else:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
    local = f"{_slug(first)}.{_slug(last)}".strip(".") or "customer"
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{local}{order_id % 997}@example.com",
        "phone": f"04{rng.randrange(10**8):08d}",
    }


def _address(
    rng: random.Random, country_iso2: str, person: dict[str, str], order_id: int,
    long_street: bool = False,
) -> dict[str, Any]:
    city, state, zip_code = rng.choice(_PLACES[country_iso2])
    number = rng.randrange(1, 400)
    street = (_LONG_STREET.format(n=number) if long_street
              else f"{number} {rng.choice(_STREETS)}")
    return {
        **person,
        "company": rng.choice(_COMPANIES),
        "street_1": street,
        "street_2": rng.choice(("", "", "", f"Unit {rng.randrange(1, 40)}", "Level 2")),
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": COUNTRIES[country_iso2],
        "country_iso2": country_iso2,
    }
