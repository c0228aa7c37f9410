"""HTTP plumbing: JSON bodies, query parameters, the error shape, and the middleware that keeps it everywhere."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.domain.errors import (
    InvalidRequestError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    ServiceError,
    UnsupportedMediaTypeError,
)
from chalicelib.services.logs import log

JSON_TYPE = "application/json; charset=utf-8"
MAX_JSON_BYTES = 5 * 1024 * 1024
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Our cursors are ~60 characters; a longer one is not ours, and would make DynamoDB refuse the start key (sort keys
# are at most 1024 bytes) with a 500 instead of our 400.
MAX_CURSOR_CHARS = 512
# A \u escape of a UTF-16 surrogate: only then can a decoded string hold an unpaired surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (UTF-8, emoji kept as they are)."""
    return Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": JSON_TYPE, **(headers or {})},
    )


def no_content() -> Response:
    """204."""
    return Response(body="", status_code=204, headers={})


def error_response(err: ServiceError) -> Response:
    """The contract's error shape."""
    return respond({"error": {"code": err.code, "message": err.message, "details": err.details}}, err.status)


def raw_bytes(request: Request, *, checked_by_caller: bool = False) -> bytes:
    """The request body as bytes, refused with 413 when too large (unless the caller applies its own limit)."""
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_JSON_BYTES and not checked_by_caller:
        raise PayloadTooLargeError(
            f"the body is {len(raw)} bytes; at most {MAX_JSON_BYTES} are accepted",
            details=[{"size": len(raw), "max": MAX_JSON_BYTES}],
        )
    return raw


def json_body(request: Request) -> Any:
    """The decoded JSON body; 400 when it is not UTF-8 JSON."""
    raw = raw_bytes(request)
    if not raw.strip():
        raise InvalidRequestError("the body is empty; a JSON object is expected")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidRequestError(f"the body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(raw):
        # "\ud800" alone is valid JSON syntax but no Unicode text (RFC 8259 8.2, I-JSON): it could be neither stored
        # nor echoed back as UTF-8.
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            raise InvalidRequestError("the body holds a \\u escape of an unpaired UTF-16 surrogate") from None
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: no float holds it, and echoing `Infinity` back would not be JSON
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def query(request: Request) -> dict[str, str]:
    """Query parameters (last value wins)."""
    return dict(request.query_params or {})


def page_params(request: Request) -> tuple[int, str | None]:
    """`limit` (default 50, 1..200) and `cursor`."""
    params = query(request)
    raw = params.get("limit")
    limit = DEFAULT_LIMIT
    if raw is not None:
        # The length check first: int() of more than 4300 digits raises ValueError (a 500 before this check).
        if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or not (1 <= int(raw) <= MAX_LIMIT):
            raise InvalidRequestError(
                f"limit must be a whole number from 1 to {MAX_LIMIT}", details=[{"field": "limit", "value": raw}]
            )
        limit = int(raw)
    cursor = params.get("cursor")
    if cursor and len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidRequestError("cursor is not valid", details=[{"field": "cursor"}])
    return limit, (cursor if cursor else None)


def choice(request: Request, name: str, allowed: frozenset[str] | set[str]) -> str | None:
    """An optional query parameter that must be one of `allowed`."""
    value = query(request).get(name)
    if value is None:
        return None
    if value not in allowed:
        raise InvalidRequestError(
            f"{name} must be one of {', '.join(sorted(allowed))}", details=[{"field": name, "value": value}]
        )
    return value


_CHALICE_CODES: dict[int, type[ServiceError]] = {
    400: InvalidRequestError,
    405: MethodNotAllowedError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
}


def install(app: Chalice) -> None:
    """Register the middleware: every error, ours or Chalice's own, leaves in the contract's shape."""

    @app.middleware("http")
    def contract_errors(event: Request, get_response: Callable[[Request], Response]) -> Response:
        try:
            response = get_response(event)
        except ServiceError as err:
            return error_response(err)
        except Exception:  # noqa: BLE001 - a bug; answer in shape and log it
            log.exception("unhandled error", extra={"path": getattr(event, "path", "?")})
            return error_response(ServiceError("an internal error occurred; it has been logged"))
        body = response.body
        if response.status_code >= 400 and isinstance(body, dict) and "Code" in body and "error" not in body:
            kind = _CHALICE_CODES.get(response.status_code)
            if kind is not None:
                out = error_response(kind(str(body.get("Message", ""))))
                if "Allow" in response.headers:
                    out.headers["Allow"] = response.headers["Allow"]
                return out
            return error_response(ServiceError("an internal error occurred; it has been logged"))
        return response


MAX_IDEMPOTENCY_KEY = 255


def idempotency(request: Request, body: Any) -> Any:
    """The request's Idempotency-Key (printable ASCII, 1 to 255 characters) and a digest of its body, or None."""
    from chalicelib.services.campaigns import Idempotency

    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not (1 <= len(key) <= MAX_IDEMPOTENCY_KEY) or not all(" " < c <= "~" for c in key):
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces",
            details=[{"header": "Idempotency-Key"}],
        )
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return Idempotency(key, hashlib.sha256(canonical.encode("ascii")).hexdigest())
