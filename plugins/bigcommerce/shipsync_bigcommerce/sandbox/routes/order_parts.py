"""An order's parts: ``products`` (its lines), ``shipping_addresses`` and ``consignments``."""

from __future__ import annotations

from shipsync.sandbox import HTTPError, Request, Response

from ..rendering import _address_json, _consignments_json, _line_json
from ..state import _View
from .common import RouteBase, _page_of, _paging, _v2_list


class OrderPartRoutes(RouteBase):
    """GET an order's ``products`` and ``shipping_addresses`` (all, or one by id) and its
    ``consignments``."""

    def _get_products(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        page, limit = _paging(request)
        return _v2_list([_line_json(order, line) for line in _page_of(order.lines, page, limit)])

    def _get_product(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        line = next((x for x in order.lines if x.id == request.params["line_id"]), None)
        if line is None:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return Response(200, _line_json(order, line))

    def _get_addresses(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        page, limit = _paging(request)
        view = self._view(request, state)
        return _v2_list([_address_json(order, a, view)
                         for a in _page_of(order.addresses, page, limit)])

    def _get_address(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        address = next((a for a in order.addresses if a.id == request.params["address_id"]), None)
        if address is None:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return Response(200, _address_json(order, address, self._view(request, state)))

    def _get_consignments(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        view = self._view(request, state)
        view = _View(base=view.base, consignments="object", line_items=view.line_items,
                     consignment_ids=view.consignment_ids)
        return Response(200, _consignments_json(order, view))
