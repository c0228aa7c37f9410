"""The rules of a tenant's event_url: pure, no I/O.

An https URL to a DNS name, as EventBridge API destinations take it (InvocationEndpoint: at most 2,048 characters
of its pattern's set); no user info, no fragment. Plain http is accepted only for 127.0.0.1 (any port) and only
where the setting allows it (the local stack, whose pump delivers to it).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from chalicelib.domain.errors import UnprocessableError

MAX_LENGTH = 2048
LOCAL_HOST = "127.0.0.1"
# EventBridge's InvocationEndpoint character set (percent escapes and the URI characters it lists).
_ENDPOINT = re.compile(r"^((%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@&=+$,A-Za-z0-9])+)([).!';/?:,])?$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _invalid(message: str) -> UnprocessableError:
    return UnprocessableError(message, code="invalid_event_url", details=[{"field": "event_url", "issue": message}])


def check_event_url(value: object, *, allow_local_http: bool) -> str:
    """The event_url as given when it is one; 422 invalid_event_url (saying why) otherwise."""
    if not isinstance(value, str) or not value:
        raise _invalid("event_url must be an https URL or null")
    if len(value) > MAX_LENGTH:
        raise _invalid(f"event_url must be at most {MAX_LENGTH} characters")
    if not _ENDPOINT.match(value):
        raise _invalid("event_url has characters a URL cannot have (escape them)")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise _invalid("event_url is not a URL") from exc
    host = parts.hostname or ""
    if parts.username is not None or "@" in parts.netloc:
        raise _invalid("event_url must not carry user info")
    if parts.fragment or "#" in value:
        raise _invalid("event_url must not have a fragment")
    if port == 0:
        raise _invalid("event_url has no valid port")
    local = allow_local_http and host == LOCAL_HOST
    if parts.scheme == "http" and local:
        return value
    if parts.scheme != "https":
        hint = " (http only for 127.0.0.1 on the local stack)" if allow_local_http else ""
        raise _invalid("event_url must be an https URL" + hint)
    if local:
        return value
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _invalid("event_url's host must be a public DNS name")
    return value
