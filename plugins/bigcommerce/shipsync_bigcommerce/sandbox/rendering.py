"""State as JSON, the way the API serves it.

Orders, product lines and their options, shipping addresses, consignments
(inline or as links, capped at 50 line items with the undocumented
``__warning__``), shipments and order statuses; money as 4-decimal strings
and dates as RFC-2822 (``formats``). ``corrupt_order``'s raw values are laid
over an order's JSON here too (``DELETE`` leaves a field out).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .formats import _Q4, _ZERO, _money, format_rfc2822
from .state import (
    ADDRESS_FIELDS,
    ORDER_STATUSES,
    _Address,
    _Line,
    _Order,
    _Shipment,
    _Store,
    _View,
    consignment_id,
)

_PROVIDER_NAMES = {"": "", "auspost": "Australia Post", "canadapost": "Canada Post",
                   "endicia": "Endicia", "usps": "USPS", "fedex": "FedEx", "ups": "UPS",
                   "upsready": "UPS", "upsonline": "UPS", "shipperhq": "ShipperHQ",
                   "royalmail": "Royal Mail"}


def _link(view: _View, resource: str) -> dict[str, str]:
    return {"url": view.base + resource, "resource": resource}


def _address_fields(address: _Address) -> dict[str, Any]:
    return {name: getattr(address, name) for name in ADDRESS_FIELDS}


def _ex_tax(order: _Order, amount: Decimal) -> Decimal:
    return (amount / (1 + order.tax_rate)).quantize(_Q4, rounding=ROUND_HALF_UP)


def _order_json(store: _Store, order: _Order, view: _View) -> dict[str, Any]:
    goods_inc = sum((line.price_inc_tax * line.quantity for line in order.lines), _ZERO)
    goods_ex = sum((_ex_tax(order, line.price_inc_tax) * line.quantity for line in order.lines),
                   _ZERO)
    ship_inc = sum((a.cost_inc_tax for a in order.addresses), _ZERO)
    ship_ex = _ex_tax(order, ship_inc)
    refunded = sum((line.price_inc_tax * line.quantity_refunded for line in order.lines), _ZERO)
    status_name = ORDER_STATUSES[order.status_id][0]
    zero = _money(_ZERO)
    body: dict[str, Any] = {
        "id": order.id,
        "customer_id": order.customer_id,
        "date_created": format_rfc2822(order.date_created),
        "date_modified": format_rfc2822(order.date_modified),
        "date_shipped": format_rfc2822(order.date_shipped) if order.date_shipped else "",
        "status_id": order.status_id,
        "status": status_name,
        "custom_status": status_name,
        "subtotal_ex_tax": _money(goods_ex),
        "subtotal_inc_tax": _money(goods_inc),
        "subtotal_tax": _money(goods_inc - goods_ex),
        "base_shipping_cost": _money(ship_inc),
        "shipping_cost_ex_tax": _money(ship_ex),
        "shipping_cost_inc_tax": _money(ship_inc),
        "shipping_cost_tax": _money(ship_inc - ship_ex),
        "shipping_cost_tax_class_id": 2,
        "base_handling_cost": zero, "handling_cost_ex_tax": zero, "handling_cost_inc_tax": zero,
        "handling_cost_tax": zero, "handling_cost_tax_class_id": 2,
        "base_wrapping_cost": zero, "wrapping_cost_ex_tax": zero, "wrapping_cost_inc_tax": zero,
        "wrapping_cost_tax": zero, "wrapping_cost_tax_class_id": 3,
        "total_ex_tax": _money(goods_ex + ship_ex),
        "total_inc_tax": _money(goods_inc + ship_inc),
        "total_tax": _money(goods_inc + ship_inc - goods_ex - ship_ex),
        "is_tax_inclusive_pricing": True,
        "items_total": sum(line.quantity for line in order.lines),
        "items_shipped": sum(line.quantity_shipped for line in order.lines),
        "payment_method": order.payment_method,
        "payment_provider_id": "",
        "payment_status": order.payment_status,
        "refunded_amount": _money(refunded),
        "order_is_digital": all(line.type != "physical" for line in order.lines),
        "store_credit_amount": zero,
        "gift_certificate_amount": zero,
        "ip_address": order.ip_address,
        "ip_address_v6": "",
        "geoip_country": order.billing.country,
        "geoip_country_iso2": order.billing.country_iso2,
        **_currencies(store, order),
        "store_default_currency_code": store.currency,
        "store_default_to_transactional_exchange_rate": "1.0000000000",
        "staff_notes": order.staff_notes,
        "customer_message": order.customer_message,
        "discount_amount": zero,
        "coupon_discount": zero,
        "shipping_address_count": len(order.addresses),
        "is_deleted": order.is_deleted,
        "ebay_order_id": "0",
        "cart_id": order.cart_id,
        "billing_address": {**_address_fields(order.billing), "form_fields": []},
        "is_email_opt_in": order.is_email_opt_in,
        "credit_card_type": None,
        "order_source": order.order_source,
        "channel_id": order.channel_id,
        "external_source": None,
        "products": _link(view, f"/orders/{order.id}/products"),
        # Real responses spell this link the legacy way; clients must build the URL themselves.
        "shipping_addresses": _link(view, f"/orders/{order.id}/shippingaddresses"),
        "coupons": _link(view, f"/orders/{order.id}/coupons"),
        "external_id": None,
        "external_merchant_id": None,
        "tax_provider_id": "BasicTaxProvider",
        "customer_locale": order.customer_locale,
        "external_order_id": order.external_order_id,
    }
    if view.consignments is None:
        body["consignments"] = _link(view, f"/orders/{order.id}/consignments")
    else:
        consignments = _consignments_json(order, view)
        # The legacy (default) structure is an array; only the object form is documented.
        body["consignments"] = consignments if view.consignments == "object" else [consignments]
    if view.fees:
        body["fees"] = []
    for path, value in order.corruptions:
        _corrupt(body, path, value)
    return body


DELETE = object()  # as a corrupt_order value: leave the field out


def _corrupt(body: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set (or with DELETE, remove) the value at ``path``, if the path exists in this view."""
    node = body
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int)
                                  and -len(node) <= path[-1] < len(node)):
        if value is DELETE:
            if isinstance(node, dict):
                node.pop(path[-1], None)
        else:
            node[path[-1]] = value


def _currencies(store: _Store, order: _Order) -> dict[str, Any]:
    """The order's currency fields: the amounts are in the transactional currency
    (``default_currency_code``); in the ``display-differs`` variant the shopper browsed in
    another one (``currency_code``), as on a multi-currency storefront."""
    display = order.currency_code
    rate = "1.0000000000"
    if store.variants.get("currencies") == "display-differs":
        display = "USD" if order.currency_code != "USD" else "EUR"
        rate = "0.6500000000"
    return {
        "currency_id": 1 if display == order.currency_code else 2,
        "currency_code": display,
        "currency_exchange_rate": rate,
        "default_currency_id": 1,
        "default_currency_code": order.currency_code,
    }


def _line_json(order: _Order, line: _Line) -> dict[str, Any]:
    price_ex = _ex_tax(order, line.price_inc_tax)
    total_inc = line.price_inc_tax * line.quantity
    total_ex = price_ex * line.quantity
    zero = _money(_ZERO)
    return {
        "id": line.id,
        "order_id": order.id,
        "product_id": line.product_id,
        "variant_id": line.variant_id,
        "order_pickup_method_id": line.order_pickup_method_id,
        "order_address_id": line.order_address_id,
        "name": line.name,
        "name_customer": line.name,
        "name_merchant": line.name,
        "sku": line.sku,
        "upc": line.upc,
        "type": line.type,
        "base_price": _money(price_ex),
        "price_ex_tax": _money(price_ex),
        "price_inc_tax": _money(line.price_inc_tax),
        "price_tax": _money(line.price_inc_tax - price_ex),
        "base_total": _money(total_ex),
        "total_ex_tax": _money(total_ex),
        "total_inc_tax": _money(total_inc),
        "total_tax": _money(total_inc - total_ex),
        # Strings, as real responses send them (the spec allows number|string for weight).
        "weight": line.weight,
        "width": line.width,
        "height": line.height,
        "depth": line.depth,
        "quantity": line.quantity,
        "base_cost_price": zero, "cost_price_inc_tax": zero, "cost_price_ex_tax": zero,
        "cost_price_tax": zero,
        "is_refunded": line.quantity_refunded > 0,
        "quantity_refunded": line.quantity_refunded,
        "refund_amount": _money(line.price_inc_tax * line.quantity_refunded),
        "return_id": 0,
        "wrapping_id": 0, "wrapping_name": "", "base_wrapping_cost": zero,
        "wrapping_cost_ex_tax": zero, "wrapping_cost_inc_tax": zero, "wrapping_cost_tax": zero,
        "wrapping_message": "",
        "quantity_shipped": line.quantity_shipped,
        "event_name": None,
        "event_date": None,
        "fixed_shipping_cost": zero,
        "ebay_item_id": "",
        "ebay_transaction_id": "",
        "option_set_id": 10 + line.product_id % 50 if line.options else None,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "bin_picking_number": "",
        "external_id": None,
        "brand": line.brand,
        "applied_discounts": [],
        "product_options": [_option_json(line, option) for option in line.options],
        "configurable_fields": [],
        "gift_certificate_id": line.gift_certificate_id,
        "discounted_total_inc_tax": _money(total_inc),
    }


def _option_json(line: _Line, option: tuple[Any, ...]) -> dict[str, Any]:
    option_id, catalog_option_id, product_option_id, name, value_text, value, kind, internal, \
        style = option
    return {
        "id": option_id, "option_id": catalog_option_id, "order_product_id": line.id,
        "product_option_id": product_option_id, "display_name": name,
        "display_name_customer": name, "display_name_merchant": name,
        "display_value": value_text, "display_value_customer": value_text,
        "display_value_merchant": value_text, "value": value, "type": kind, "name": internal,
        "display_style": style,
    }


def _address_json(order: _Order, address: _Address, view: _View) -> dict[str, Any]:
    lines = [line for line in order.lines if line.order_address_id == address.id]
    cost_ex = _ex_tax(order, address.cost_inc_tax)
    zero = _money(_ZERO)
    return {
        "id": address.id,
        "order_id": order.id,
        **_address_fields(address),
        "form_fields": [],
        "items_total": sum(line.quantity for line in lines),
        "items_shipped": sum(line.quantity_shipped for line in lines),
        "shipping_method": address.shipping_method,
        "base_cost": _money(address.cost_inc_tax),
        "cost_ex_tax": _money(cost_ex),
        "cost_inc_tax": _money(address.cost_inc_tax),
        "cost_tax": _money(address.cost_inc_tax - cost_ex),
        "cost_tax_class_id": 2,
        "base_handling_cost": zero, "handling_cost_ex_tax": zero, "handling_cost_inc_tax": zero,
        "handling_cost_tax": zero, "handling_cost_tax_class_id": 2,
        "shipping_zone_id": address.shipping_zone_id,
        "shipping_zone_name": address.shipping_zone_name,
        "shipping_quotes": _link(view, f"/orders/{order.id}/shipping_addresses/{address.id}"
                                       "/shipping_quotes"),
    }


def _consignments_json(order: _Order, view: _View) -> dict[str, Any]:
    shipping = []
    for address in order.addresses:
        lines = [line for line in order.lines if line.order_address_id == address.id]
        cost_ex = _ex_tax(order, address.cost_inc_tax)
        # The spec types consignment costs as numbers, unlike the address endpoint's strings.
        entry: dict[str, Any] = {
            "id": consignment_id(address.id, view),
            **_address_fields(address),
            "form_fields": [],
            "shipping_method": address.shipping_method,
            "items_total": sum(line.quantity for line in lines),
            "items_shipped": sum(line.quantity_shipped for line in lines),
            "base_cost": float(address.cost_inc_tax),
            "cost_ex_tax": float(cost_ex),
            "cost_inc_tax": float(address.cost_inc_tax),
            "cost_tax": float(address.cost_inc_tax - cost_ex),
            "cost_tax_class_id": 2,
            "base_handling_cost": 0, "handling_cost_ex_tax": 0, "handling_cost_inc_tax": 0,
            "handling_cost_tax": 0, "handling_cost_tax_class_id": 2,
            "shipping_zone_id": address.shipping_zone_id,
            "shipping_zone_name": address.shipping_zone_name,
            "shipping_quotes": _link(view, f"/orders/{order.id}/consignments/shipping/"
                                           f"{address.id}/shipping_quotes"),
        }
        entry.update(_line_items(order, lines, view))
        shipping.append(entry)
    pickups = []
    for pickup in order.pickups:
        lines = [line for line in order.lines if line.order_pickup_method_id == pickup.id]
        pickups.append({
            "id": pickup.id,
            "pickup_method_id": pickup.pickup_method_id,
            "pickup_method_display_name": pickup.display_name,
            "collection_instructions": pickup.collection_instructions,
            "collection_time_description": pickup.collection_time_description,
            "location": dict(pickup.location),
            **_line_items(order, lines, view),
        })
    digital = [line for line in order.lines if line.type == "digital"]
    downloads = [{"recipient_email": order.billing.email, **_line_items(order, digital, view)}] \
        if digital else []
    certificates: dict[str, list[_Line]] = {}
    for line in order.lines:
        if line.type == "giftcertificate":
            certificates.setdefault(line.recipient_email or order.billing.email, []).append(line)
    return {
        "pickups": pickups,
        "shipping": shipping,
        "downloads": downloads,
        "email": {"gift_certificates": [
            {"recipient_email": email, **_line_items(order, lines, view)}
            for email, lines in certificates.items()
        ]},
    }


def _line_items(order: _Order, lines: list[_Line], view: _View) -> dict[str, Any]:
    if not view.line_items:
        return {"line_items": [_link(view, f"/orders/{order.id}/products/{line.id}")
                               for line in lines]}
    cap = view.line_cap
    shown = lines if cap is None else lines[:cap]
    result: dict[str, Any] = {"line_items": [_line_json(order, line) for line in shown]}
    if len(shown) < len(lines):
        # Undocumented but observed (bigcommerce/docs#960): the rest must come from /products.
        result["__warning__"] = {"message": (
            f"Not all line items of this consignment are returned. This consignment has "
            f"{len(lines)} line items, but only {cap} are included. Please use the "
            "/v2/orders/{order_id}/products endpoint to retrieve all line items.")}
    return result


def _shipment_json(order: _Order, shipment: _Shipment) -> dict[str, Any]:
    address = next((a for a in order.addresses if a.id == shipment.order_address_id), None)
    return {
        "id": shipment.id,
        "order_id": order.id,
        "customer_id": order.customer_id,
        "order_address_id": shipment.order_address_id,
        "date_created": format_rfc2822(shipment.date_created),
        "tracking_number": shipment.tracking_number,
        "merchant_shipping_cost": _money(shipment.merchant_shipping_cost),
        "shipping_method": shipment.shipping_method,
        "comments": shipment.comments,
        "shipping_provider": shipment.shipping_provider,
        "tracking_carrier": shipment.tracking_carrier,
        "tracking_link": shipment.tracking_link,
        "billing_address": _address_fields(order.billing),
        "shipping_address": _address_fields(address) if address else {},
        "items": [{"order_product_id": line_id, "product_id": product_id, "quantity": quantity}
                  for line_id, product_id, quantity in shipment.items],
        "shipping_provider_display_name": _PROVIDER_NAMES.get(shipment.shipping_provider,
                                                              shipment.shipping_provider),
        "generated_tracking_link": shipment.generated_tracking_link,
    }


def _status_json(status_id: int) -> dict[str, Any]:
    name, sort_order, description = ORDER_STATUSES[status_id]
    return {"id": status_id, "name": name, "system_label": name, "custom_label": name,
            "system_description": description, "order": sort_order}
