"""The local stack's Lambda function URL: an HTTP request as the function URL event (payload 2.0) Lambda would hand
the `webhooks` function, and its answer back as HTTP, so the local webhooks take the path they take in AWS."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

# Bodies of these types arrive as text; any other (or one that is not UTF-8) base64-encoded, as Lambda passes them.
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


def url_event(
    method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes | None, host: str
) -> dict[str, Any]:
    """The function URL event of an HTTP request (`target` as the request line has it: raw path and query)."""
    parts = urlsplit(target)
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            joined[key] = f"{joined[key]},{value}" if key in joined else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if body:
        content_type = joined.get("content-type", "").lower()
        try:
            text = body.decode("utf-8") if content_type.startswith(TEXT_TYPES) else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"] = text
    return event


def http_answer(answer: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and body bytes of a function URL answer (cookies as Set-Cookie headers)."""
    headers = [(str(k), str(v)) for k, v in (answer.get("headers") or {}).items()]
    headers += [("set-cookie", str(c)) for c in answer.get("cookies") or []]
    body = answer.get("body") or ""
    raw = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(answer.get("statusCode") or 200), headers, raw
