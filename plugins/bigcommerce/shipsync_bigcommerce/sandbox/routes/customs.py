"""The catalog's customs information: ``/v3/shipping/products/customs-information``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from shipsync.sandbox import HTTPError, Request, Response

from ..formats import _utc
from .common import DEFAULT_LIMIT, MAX_LIMIT, RouteBase, _int_arg, _page_of


class CustomsRoutes(RouteBase):
    """GET customs information, filtered by ``product_id:in`` and paged the v3 way."""

    def _get_customs(self, request: Request) -> Response:
        state = self._request_store(request)
        wanted = _product_ids(request.arg("product_id:in"))
        records = [state.customs[pid] for pid in sorted(state.customs)
                   if wanted is None or pid in wanted]
        page = _int_arg(request, "page", 1, minimum=1) or 1
        limit = _int_arg(request, "limit", DEFAULT_LIMIT, minimum=1) or DEFAULT_LIMIT
        if limit > MAX_LIMIT:
            raise HTTPError(422, {"message": f"The field 'limit' must be at most {MAX_LIMIT}."})
        shown = _page_of(records, page, limit)
        return Response(200, {"data": [_customs_json(r) for r in shown],
                              "meta": _v3_pagination(len(records), len(shown), page, limit)})


def _customs_json(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **record,
        "hs_codes": dict(record["hs_codes"]),
        "created_at": _utc(record["created_at"]).isoformat(timespec="seconds"),
        "updated_at": _utc(record["updated_at"]).isoformat(timespec="seconds"),
    }


def _product_ids(raw: str | None) -> set[int] | None:
    if not raw:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise HTTPError(422, {"message": f"The field 'product_id:in' is invalid: {raw!r}.",
                              "details": {"product_id:in": "must be a list of integers"}}) from None


def _v3_pagination(total: int, count: int, page: int, limit: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / limit))
    links = {"current": f"?page={page}&limit={limit}"}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    if page < pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    # Real responses say total_pages; the shipping spec's metaCollection misspells it total_page.
    return {"pagination": {"total": total, "count": count, "per_page": limit,
                           "current_page": page, "total_pages": pages, "links": links}}
