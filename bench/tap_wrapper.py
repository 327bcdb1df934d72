"""Run tap-bigcommerce 1.1.3's orders stream against the BigCommerce emulator.

Runs inside bench/.venv-tap (the tap pins old singer-python and jsonschema, so
it gets a venv of its own). The tap's API root is the class attribute
``Bigcommerce.base_url`` in tap_bigcommerce/bigcommerce.py,
``"https://api.bigcommerce.com/stores/"``, to which ``__init__`` appends
``STORE_HASH + "/v{version}"``; this wrapper points it at
``http://127.0.0.1:PORT/stores/`` and then does what the tap's ``main()`` does
in sync mode, with a catalog selecting only the ``orders`` stream (its
discovered catalog selects nothing: streams are only ``selected-by-default``).

``--skip-consignments`` adds ``("consignments",)`` to the tap's own
``endpoints["orders"]["exclude_paths"]``. The tap follows every
``{"url", "resource"}`` link in an order and sizes its pages for 3 of them
(``sub_resources: 3``: products, shipping_addresses, coupons); BigCommerce's
order also links ``consignments`` (reference sheet §6, and the emulator), so
as released it sends 4 per order, more than a page's budget (45 orders x 4 + 1
> 150), and retries the same page forever. Skipping the link gives the request
pattern the tap was written for.

Singer messages go to stdout as with the real tap; a summary JSON line goes to
the file named by ``--summary``.

Usage: bench/.venv-tap/bin/python bench/tap_wrapper.py --url http://127.0.0.1:PORT
    --store-hash HASH --token TOKEN --start-date 2026-01-01T00:00:00Z --summary FILE
"""

from __future__ import annotations

import argparse
import json
import time

import tap_bigcommerce
import tap_bigcommerce.bigcommerce as api
from singer import Catalog, metadata
from tap_bigcommerce.client import BigCommerce
from tap_bigcommerce.discover import discover_streams


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="emulator base URL, http://127.0.0.1:PORT")
    parser.add_argument("--store-hash", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--start-date", required=True)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--skip-consignments", action="store_true")
    args = parser.parse_args()

    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit("the tap may only be pointed at a loopback emulator")
    api.Bigcommerce.base_url = args.url.rstrip("/") + "/stores/"
    api.Bigcommerce.auth_check_url = args.url.rstrip("/") + "/store"  # unused by 1.1.3; kept local
    if args.skip_consignments:
        api.Bigcommerce.endpoints["orders"]["exclude_paths"].append(("consignments",))

    started = time.perf_counter()
    client = BigCommerce(client_id="bench", access_token=args.token, store_hash=args.store_hash)
    discovered = discover_streams(client)
    for stream in discovered["streams"]:
        if stream["tap_stream_id"] == "orders":
            mdata = metadata.to_map(stream["metadata"])
            mdata = metadata.write(mdata, (), "selected", True)
            stream["metadata"] = metadata.to_list(mdata)
    catalog = Catalog.from_dict(discovered)
    tap_bigcommerce.do_sync(client=client, catalog=catalog, state={},
                            start_date=args.start_date)
    inner = client.api
    with open(args.summary, "w") as out:
        json.dump({"seconds": round(time.perf_counter() - started, 3),
                   "results_per_page": inner.results_per_page,
                   "rate_limit": inner.rate_limit}, out)


if __name__ == "__main__":
    main()
