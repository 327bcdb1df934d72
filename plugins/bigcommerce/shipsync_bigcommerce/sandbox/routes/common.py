"""What every route handler shares.

``RouteBase`` is the base of the route classes: the request's store, order and
view, and the emulator's clock. The functions parse what requests carry: integer
query arguments, paging (``limit`` above 250 answers 413), ``include`` lists and
JSON bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from shipsync.sandbox import HTTPError, Request, Response

from ..formats import _utc
from ..state import _Order, _Store, _View
from ..webhooks import WebhookSender

MAX_LIMIT = 250
DEFAULT_LIMIT = 50


class RouteBase:
    """The state and helpers every route class reads; ``BigCommerceEmulator`` provides the state."""

    now: Callable[[], datetime]
    _stores: dict[str, _Store]
    webhooks: WebhookSender  # callbacks of what changed (routes/hooks.py)

    def _now(self) -> datetime:
        # Whole seconds: what v2 dates can express, so a date read back filters exactly.
        return _utc(self.now()).replace(microsecond=0)

    def _request_store(self, request: Request) -> _Store:
        return self._stores[request.params["store_hash"]]  # before_request vouched for it

    def _request_order(self, request: Request, state: _Store) -> _Order:
        order = state.orders.get(request.params["order_id"])
        if order is None:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return order

    @staticmethod
    def _view(request: Request, state: _Store) -> _View:
        host = request.header("host") or "api.bigcommerce.com"
        includes = _includes(request)
        wants = bool(includes & {"consignments", "consignments.line_items"})
        structure = "object" if request.arg("consignment_structure") == "object" else "legacy"
        return _View(base=f"http://{host}/stores/{state.store_hash}/v2",
                     consignments=structure if wants else None,
                     line_items="consignments.line_items" in includes,
                     fees="fees" in includes,
                     consignment_ids=state.variants.get("consignment_ids", "address"))


def _int_arg(request: Request, name: str, default: int | None = None,
             minimum: int | None = None) -> int | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPError(400, {"message": f"The field '{name}' is invalid: {raw!r} is not an "
                              "integer."}) from None
    if minimum is not None and value < minimum:
        raise HTTPError(400, {"message": f"The field '{name}' must be at least {minimum}."})
    return value


def _paging(request: Request) -> tuple[int, int]:
    page = _int_arg(request, "page", 1, minimum=1) or 1
    limit = _int_arg(request, "limit", DEFAULT_LIMIT, minimum=1) or DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise HTTPError(413, [{"status": 413,
                               "message": "The specified limit exceeds the maximum allowed.",
                               "details": {"max_limit": MAX_LIMIT}}])
    return page, limit


def _page_of(items: Sequence[Any], page: int, limit: int) -> Sequence[Any]:
    return items[(page - 1) * limit: page * limit]


def _v2_list(items: list[Any]) -> Response:
    # An empty v2 collection (or a page past the end) is 204 with no body, never [].
    return Response(200, items) if items else Response(204)


def _includes(request: Request) -> set[str]:
    return {part.strip() for value in request.args("include") for part in value.split(",")
            if part.strip()}


def _json_object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HTTPError(400, {"message": "The request body must be a JSON object."})
    return body


def _text_field(body: Mapping[str, Any], name: str, max_length: int) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise HTTPError(400, {"message": f"The field '{name}' must be a string."})
    if len(value) > max_length:
        raise HTTPError(400, {"message": f"The field '{name}' is too long: {len(value)} characters;"
                              f" the maximum is {max_length}."})
    return value


def _whole_number(value: Any, name: str) -> int:
    # The guide sends order_address_id as a string ("128"); the spec says integer. Take both.
    if isinstance(value, bool):
        raise HTTPError(400, {"message": f"The field '{name}' must be an integer."})
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise HTTPError(400, {"message": f"The field '{name}' must be an integer, not {value!r}."})
