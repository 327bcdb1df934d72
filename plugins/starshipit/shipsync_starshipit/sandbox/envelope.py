"""The API's own answers: the success envelope, refusals and request-body schema checks.

Answers carry ``success``; a refusal is ``{"success": false, "errors":
[{message, details}]}``, with status 400 for validation failures and refused
actions and 200 for lookups that find nothing. Request bodies are checked
against the plugin's ``schemas/api/*.json``. The Python API raises
``StarshipitRefusal`` for what the HTTP API refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError
from shipsync.records import schemas_of
from shipsync.sandbox import HTTPError, Response


class StarshipitRefusal(ValueError):
    """The emulator's Python API refused an action, for the reason the HTTP API gives."""


def _dotted(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: ValidationError, skip: int = 0) -> str:
    """One schema error as 'path: problem', the path relative to ``skip`` levels down."""
    path = _dotted(list(error.absolute_path)[skip:])
    # jsonschema would print the whole carrier enum; the value is what the user needs.
    message = (
        f"{error.instance!r} is not an accepted value"
        if error.validator == "enum"
        else error.message
    )
    return f"{path}: {message}" if path else message


def schema_errors(name: str, body: Any) -> list[ValidationError]:
    """Errors of ``body`` against the plugin's ``schemas/NAME.json``, in path order."""
    found = schemas_of("shipsync_starshipit").validator(f"api/{name}.json").iter_errors(body)
    return sorted(found, key=lambda e: [str(p) for p in e.absolute_path])


def _error(message: str, details: str) -> dict[str, str]:
    return {"message": message, "details": details}


def _refusal(status: int, message: str, details: str | Sequence[str]) -> HTTPError:
    listed = [details] if isinstance(details, str) else list(details)
    return HTTPError(status, {"success": False, "errors": [_error(message, d) for d in listed]})


def _missing(details: str) -> HTTPError:
    # Lookups that find nothing answer 200 + success false, or 404 in the ``not_found``
    # variant (the gateway changes the status: see gateway.Gateway.dispatch).
    return _refusal(200, "Not found", details)


def _ok(**payload: Any) -> Response:
    return Response(200, {**payload, "success": True})


def _refusal_text(exc: HTTPError) -> str:
    errors = exc.body.get("errors", []) if isinstance(exc.body, dict) else []
    return "; ".join(e.get("details") or e.get("message", "") for e in errors) or str(exc.body)
