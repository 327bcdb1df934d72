"""Starshipit carrier codes to BigCommerce ``tracking_carrier`` values.

BigCommerce accepts the slugs of tracking_carrier_values.csv (AfterShip's
courier list); a contract test checks every value here against that file.
Carriers without a row (Royal Mail, Plain Label, Pickup In Store, ...) get
"": the shipment then carries the tracking number and Starshipit's
tracking link, and BigCommerce shows that link instead of generating one.
"""

from __future__ import annotations

from shipsync import hookimpl

__all__ = ["TRACKING_CARRIERS", "tracking_carrier"]

TRACKING_CARRIERS: dict[str, str] = {
    "AusPost": "australia-post",
    "AusPostMail": "australia-post",
    "MyPostBusiness": "australia-post",
    "StarTrack": "star-track",
    "StarTrackCourier": "star-track-courier",
    "CouriersPlease": "couriers-please",
    "Fastways": "fastway-au",  # now Aramex Australia
    "TNT": "tnt-au",
    "TollIPEC": "toll-ipec",
    "TollPriority": "toll-priority",
    "MyToll": "toll-ipec",
    "TollNZ": "toll-nz",
    "HunterExpress": "hunter-express",
    "Sendle": "sendle",
    "AlliedExpress": "alliedexpress",
    "BorderExpress": "borderexpress",
    "DirectFreight": "directfreight-au-ref",
    "DHL": "dhl",
    "DHLExpressGMB": "dhl",
    "DHLGlobalMail": "dhl-global-mail",
    "DHLUS": "dhl-global-mail",
    "DHLParcelUK": "dhlparcel-uk",
    "DHLParcelEurope": "dhl-benelux",
    "DeutschePost": "deutsch-post",
    "FedEx": "fedex",
    "FedExInternationalConnect": "fedex",
    "UPS": "ups",
    "USPS": "usps",
    "NZPost": "new-zealand-post",
    "MyNZPostBusiness": "new-zealand-post",
    "CourierPost": "courierpost",
    "DPDUK": "dpd-uk",
    "DPDLocalUK": "interlink-express",
    "DPDNL": "dpd",
    "Hermes": "myhermes-uk",
    "SingaporePost": "singapore-post",
    "AmazonShipping": "amazon",
}


def tracking_carrier(carrier: str) -> str:
    return TRACKING_CARRIERS.get((carrier or "").strip(), "")


@hookimpl
def shipsync_tracking_carrier(carrier: str, carrier_name: str, source: str) -> str | None:
    if source != "bigcommerce":
        return None
    return tracking_carrier(carrier) or None
