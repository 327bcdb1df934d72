"""Carriers and their services: names, tracking numbers and URLs, and the account's Rules.

When neither a print request nor the order names a carrier, ``choose_carrier``
picks one from the delivery method's name (pickup or click & collect:
``PickupInStore``; express: ``StarTrack``; anything else: ``AusPost``), and
``_default_service`` the product the account's Rules would pick.
"""

from __future__ import annotations

CARRIER_NAMES = {
    "AusPost": "Australia Post",
    "AusPostMail": "Australia Post Mail",
    "MyPostBusiness": "MyPost Business",
    "StarTrack": "StarTrack",
    "StarTrackCourier": "StarTrack Courier",
    "CouriersPlease": "Couriers Please",
    "Fastways": "Aramex",
    "PickupInStore": "Pickup In Store",
    "PlainLabel": "Plain Label",
    "NZPost": "NZ Post",
    "CourierPost": "CourierPost",
    "DHL": "DHL Express",
    "TollIPEC": "Toll IPEC",
    "TollPriority": "Toll Priority",
    "HunterExpress": "Hunter Express",
    "Sendle": "Sendle",
}
TRACKING_PREFIXES = {
    "AusPost": "SSA",
    "StarTrack": "SST",
    "PickupInStore": "PIS",
    "CouriersPlease": "CPL",
    "Sendle": "SND",
    "DHL": "DHL",
    "NZPost": "NZP",
    "CourierPost": "CPO",
}
TRACKING_URLS = {
    "AusPost": "https://auspost.com.au/mypost/track/#/details/{number}",
    "StarTrack": "https://startrack.com.au/track/details/{number}",
    "CouriersPlease": "https://www.couriersplease.com.au/tools-track/no/{number}",
    "Sendle": "https://track.sendle.com/tracking?ref={number}",
    "DHL": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
    "NZPost": "https://www.nzpost.co.nz/tools/tracking/item/{number}",
    "CourierPost": "https://www.nzpost.co.nz/tools/tracking/item/{number}",
}
SERVICE_NAMES = {
    "7D55": "Parcel Post",
    "7B05": "Parcel Post + Signature",
    "7J55": "Express Post",
    "EXP": "Express",
}
# The product an account's Rules would pick when nothing names one.
DEFAULT_SERVICES = {"AusPost": "7D55", "StarTrack": "EXP"}
SIGNATURE_SERVICES = {"AusPost": "7B05"}


def carrier_name(carrier: str | None) -> str | None:
    if carrier is None:
        return None
    if carrier.startswith("PlainLabel"):
        return "Plain Label"
    return CARRIER_NAMES.get(carrier, carrier)


def service_name(code: str | None) -> str | None:
    return None if code is None else SERVICE_NAMES.get(code, code)


def choose_carrier(shipping_method: str | None, shipping_description: str | None = None) -> str:
    """The carrier the sandbox account's Rules pick from the delivery method's name."""
    text = f"{shipping_method or ''} {shipping_description or ''}".lower()
    if (
        "pickup" in text
        or "pick up" in text
        or "click & collect" in text
        or "click and collect" in text
    ):
        return "PickupInStore"
    if "express" in text:
        return "StarTrack"
    return "AusPost"


def tracking_number(carrier: str, order_id: int, index: int) -> str:
    """Deterministic per carrier, order and parcel (1-based), so reprints match."""
    prefix = TRACKING_PREFIXES.get(carrier, carrier[:3].upper())
    return f"{prefix}{order_id:09d}{index:02d}"


def tracking_url(carrier: str, number: str) -> str | None:
    template = TRACKING_URLS.get(carrier)
    return template.format(number=number) if template else None


def _default_service(carrier: str, signature_required: bool) -> str | None:
    if signature_required and carrier in SIGNATURE_SERVICES:
        return SIGNATURE_SERVICES[carrier]
    return DEFAULT_SERVICES.get(carrier)
