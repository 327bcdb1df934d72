"""Statuses and the store's settings: ``/v2/order_statuses``, ``/v2/store``, ``/v2/time`` and
``/v3/settings/store/units-of-measurement``."""

from __future__ import annotations

import hashlib
from typing import Any

from shipsync.sandbox import HTTPError, Request, Response

from ..catalog import length_unit
from ..rendering import _status_json
from ..state import ORDER_STATUSES, _Store
from .common import RouteBase


class StoreRoutes(RouteBase):
    """GET order statuses (all, one), the store's information, its time and its units."""

    def _get_statuses(self, request: Request) -> Response:
        return Response(200, [_status_json(status_id) for status_id in ORDER_STATUSES])

    def _get_status(self, request: Request) -> Response:
        status_id = request.params["status_id"]
        if status_id not in ORDER_STATUSES:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return Response(200, _status_json(status_id))

    def _get_store(self, request: Request) -> Response:
        return Response(200, _store_json(self._request_store(request)))

    def _get_time(self, request: Request) -> Response:
        return Response(200, {"time": int(self._now().timestamp())})

    def _get_units(self, request: Request) -> Response:
        state = self._request_store(request)
        return Response(200, {"data": {
            "weight_measurement": state.weight_units,
            "length_measurement": length_unit(state.weight_units),
            "decimal_token": ".", "thousands_token": ",", "decimal_places": 2,
            "factoring_dimension": "depth",
        }, "meta": {}})


def _store_json(state: _Store) -> dict[str, Any]:
    domain = f"{state.store_hash}.sandbox.example"
    return {
        "id": state.store_hash,
        "account_uuid": "00000000-0000-4000-8000-" + hashlib.sha256(
            state.store_hash.encode()).hexdigest()[:12],
        "domain": domain,
        "secure_url": f"https://{domain}",
        "control_panel_base_url": f"https://store-{state.store_hash}.mybigcommerce.com",
        "status": "live",
        "name": state.name,
        "first_name": "Sam",
        "last_name": "Merchant",
        "address": "1 George St, Sydney NSW 2000",
        "country": "Australia",
        "country_code": "AU",
        "phone": "02 9000 0000",
        "admin_email": "admin@example.com",
        "order_email": "orders@example.com",
        "favicon_url": "",
        "timezone": {"name": "Australia/Sydney", "raw_offset": 36000, "dst_offset": 39600,
                     "dst_correction": True,
                     "date_format": {"display": "jS M Y", "export": "d/m/Y",
                                     "extended_display": "jS M Y @ g:i A"}},
        "language": "en",
        "currency": state.currency,
        "currency_symbol": "$",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "decimal_places": 2,
        "currency_symbol_location": "left",
        "weight_units": state.weight_units,
        "dimension_units": length_unit(state.weight_units),
        "dimension_decimal_places": 2,
        "dimension_decimal_token": ".",
        "dimension_thousands_token": ",",
        "plan_name": "Standard",
        "plan_level": "Standard",
        "plan_is_trial": False,
        "industry": "Retail",
        "logo": [],  # a store without a logo sends an empty array (hence the spec's anyOf)
        "is_price_entered_with_tax": True,
        "store_id": state.store_id,
        "default_channel_id": 1,
        "default_site_id": 1000,
        "active_comparison_modules": [],
        "features": {"stencil_enabled": True, "sitewidehttps_enabled": True,
                     "facebook_catalog_id": "", "checkout_type": "optimized",
                     "wishlists_enabled": False, "graphql_storefront_api_enabled": True,
                     "shopper_consent_tracking_enabled": False,
                     "multi_storefront_enabled": False,
                     "storefront_limits": {"active": 1, "total_including_inactive": 1}},
    }
