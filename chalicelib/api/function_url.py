"""The provider webhooks through a Lambda function URL: its events (payload format 2.0) in, the API Gateway REST proxy
events (v1) the Chalice app understands out, and the app's v1 answers back as function URL answers.

A function URL costs no API Gateway request charge ($3.50 a million with REST), and the webhooks need nothing of API
Gateway: they carry no API key, the providers' signatures authenticate them. Only the webhook routes are admitted
(paths under /webhooks/ that match one of the app's webhook route templates); any other path answers 404 in the
contract's shape, so the PBX API under /v1 stays behind API Gateway REST. An event this module cannot read answers
400, never a 5xx. Pure functions: no AWS, no I/O; `serve` calls the app it is given.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from chalicelib.api.http import error_response
from chalicelib.domain.errors import InvalidRequestError, NotFoundError, ServiceError

WEBHOOK_PREFIX = "/webhooks/"
# Lambda refuses a function URL request over 6 MB anyway; a path or query far longer than any provider's is not one.
MAX_PATH_CHARS = 2048
MAX_QUERY_CHARS = 8192

RestApp = Callable[[dict[str, Any], Any], Mapping[str, Any]]


@dataclass(frozen=True)
class Route:
    """A Chalice route template, split into path segments (`{name}` stands for one whole, non-empty segment)."""

    template: str
    segments: tuple[str, ...]


def webhook_routes(templates: Iterable[str]) -> tuple[Route, ...]:
    """The route templates under /webhooks/, as matchers (the app's other routes are never reached this way)."""
    return tuple(Route(t, tuple(t.split("/"))) for t in sorted(templates) if t.startswith(WEBHOOK_PREFIX))


def match(routes: Iterable[Route], raw_path: str) -> tuple[str, dict[str, str]] | None:
    """The template a raw path matches and its path parameters, percent-decoded as API Gateway passes them."""
    if not raw_path.startswith(WEBHOOK_PREFIX):
        return None
    segments = raw_path.split("/")
    for route in routes:
        if len(route.segments) != len(segments):
            continue
        params: dict[str, str] = {}
        for want, got in zip(route.segments, segments, strict=True):
            if want.startswith("{") and want.endswith("}"):
                if not got:
                    break
                params[want[1:-1]] = unquote(got)
            elif want != got:
                break
        else:
            return route.template, params
    return None


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"the function URL event's {what} is not an object")
    return value


def _text(value: Any, what: str, *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise InvalidRequestError(f"the function URL event has no {what}")
    return value


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    """Lower-case names (a function URL's are already), and its `cookies` back into the one Cookie header."""
    headers: dict[str, str] = {}
    for name, value in _mapping(event.get("headers"), "headers").items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidRequestError("the function URL event's headers are not text")
        headers[name.lower()] = value
    cookies = event.get("cookies")
    if cookies:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise InvalidRequestError("the function URL event's cookies are not text")
        headers["cookie"] = "; ".join(cookies)
    return headers


def _body(event: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The body as the v1 event carries it; a body flagged base64 must be base64 (it is passed on re-encoded)."""
    body = event.get("body")
    if body is None:
        return None, False
    if not isinstance(body, str):
        raise InvalidRequestError("the function URL event's body is not text")
    if not event.get("isBase64Encoded"):
        return body, False
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError("the body is flagged as base64 but is not base64") from None
    return base64.b64encode(raw).decode("ascii"), True


def _query(raw: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """The query as API Gateway REST passes it: each name's last value, and all its values; None when empty.
    Blank values are kept: a signature covers them."""
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidRequestError(f"the query string is longer than {MAX_QUERY_CHARS} characters")
    pairs = parse_qsl(raw, keep_blank_values=True)
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def to_rest_event(event: Any, routes: Iterable[Route]) -> dict[str, Any]:
    """The API Gateway REST proxy event (v1) of a function URL event (v2) for a webhook route.

    Raises InvalidRequestError (400) for an event that is not a function URL request, and NotFoundError (404) for a
    path that is no webhook route of the app."""
    if not isinstance(event, Mapping):
        raise InvalidRequestError("the event is not a function URL request")
    context = _mapping(event.get("requestContext"), "requestContext")
    http = _mapping(context.get("http"), "requestContext.http")
    method = _text(http.get("method"), "requestContext.http.method").upper()
    raw_path = _text(event.get("rawPath", http.get("path")), "rawPath")
    if not method or not method.isascii() or not method.isalpha():
        raise InvalidRequestError("the function URL event's method is not an HTTP method")
    if len(raw_path) > MAX_PATH_CHARS:
        raise NotFoundError("No such route: check the method and path.")
    found = match(routes, raw_path)
    if found is None:
        raise NotFoundError("No such route: check the method and path.")
    template, params = found
    query, multi_query = _query(_text(event.get("rawQueryString"), "rawQueryString", default=""))
    headers = _headers(event)
    body, is_base64 = _body(event)
    source_ip = http.get("sourceIp") if isinstance(http.get("sourceIp"), str) else None
    return {
        "resource": template,
        "path": raw_path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": template,
            "httpMethod": method,
            "path": raw_path,
            "stage": "$default",
            "domainName": context.get("domainName"),
            "requestId": context.get("requestId"),
            "requestTimeEpoch": context.get("timeEpoch"),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent")},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def to_url_answer(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A function URL answer (v2) of the app's API Gateway REST answer (v1): multi-value headers joined with commas,
    Set-Cookie headers as `cookies`."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    pairs: list[tuple[str, Any]] = list((answer.get("headers") or {}).items())
    pairs += [(n, v) for n, values in (answer.get("multiValueHeaders") or {}).items() for v in values]
    for name, value in pairs:
        key = str(name).lower()
        if key == "set-cookie":
            cookies.append(str(value))
        else:
            headers[key] = f"{headers[key]}, {value}" if key in headers else str(value)
    body = answer.get("body")
    is_base64 = bool(answer.get("isBase64Encoded"))
    if isinstance(body, bytes):
        body, is_base64 = base64.b64encode(body).decode("ascii"), True
    out: dict[str, Any] = {
        "statusCode": int(answer.get("statusCode") or 200),
        "headers": headers,
        "body": "" if body is None else str(body),
        "isBase64Encoded": is_base64,
    }
    if cookies:
        out["cookies"] = cookies
    return out


def error_answer(err: ServiceError) -> dict[str, Any]:
    """The contract's error shape as a function URL answer."""
    return to_url_answer(error_response(err).to_dict())


def serve(event: Any, context: Any, app: RestApp, routes: Iterable[Route]) -> dict[str, Any]:
    """Answer a function URL request: a webhook route goes to the app as API Gateway REST would pass it."""
    try:
        rest_event = to_rest_event(event, routes)
    except ServiceError as err:
        return error_answer(err)
    return to_url_answer(app(rest_event, context))
