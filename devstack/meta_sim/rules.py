"""Meta's Graph API rules as the simulator plays them: error bodies, test numbers, templates' shapes, limits.

No state and no I/O: the model (model.py) applies these to the WABAs, numbers, templates and messages it holds.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

SIGNATURE_HEADER = "X-Hub-Signature-256"
PAIR_GAP_SECONDS = 6.0  # one message to the same user per 6 s per business number (131056 beyond)
DEFAULT_MPS = 80.0
DEFAULT_PAGE_SIZE = 25  # Graph API's default page size for edges
MAX_PAGE_SIZE = 100
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
DIGITS = re.compile(r"[1-9][0-9]{6,14}")
GRAPH_PATH = re.compile(r"^/graph/(v[0-9]+\.[0-9]+)/([0-9]+)/(messages|message_templates)$")

# The contract's WhatsApp test numbers: Meta accepts the send (200 and a wamid), then reports the failure in a
# `failed` status webhook, which is how Meta reports these codes.
TEST_NUMBER_FAILURES: dict[str, tuple[int, str, str]] = {
    "15550199001": (131026, "Message undeliverable", "The recipient is not a WhatsApp user"),
    "15550199002": (
        131049,
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "Meta chose not to deliver this marketing message (per-user marketing limit)",
    ),
    "15550199003": (131050, "Unable to deliver the message", "The user has stopped marketing messages"),
}


# Failures Meta reports in a `failed` status for other reasons: (title, details).
OTHER_FAILURES: dict[int, tuple[str, str]] = {
    131047: ("Re-engagement message", "More than 24 hours have passed since the recipient last replied"),
    131053: ("Media upload error", "The header media could not be downloaded, or its type or size is not supported"),
}


class GraphError(Exception):
    """An error the simulated Graph API answers with Meta's error JSON."""

    def __init__(
        self, status: int, code: int, message: str, *, kind: str = "OAuthException", details: str = ""
    ) -> None:
        """Remember the HTTP status, Meta error code, message, type and details."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind
        self.details = details

    def body(self) -> dict[str, Any]:
        """Meta's error body."""
        error: dict[str, Any] = {
            "message": f"(#{self.code}) {self.message}",
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": "A" + secrets.token_hex(10),
        }
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        return {"error": error}


def invalid_token() -> GraphError:
    """190: the access token is not the WABA's."""
    return GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")


def new_wamid() -> str:
    """A WhatsApp message id as Meta makes them (`wamid.` and base64)."""
    return "wamid." + base64.b64encode(b"HBgL" + secrets.token_bytes(30)).decode().rstrip("=")


def cursor(offset: int) -> str:
    """An opaque paging cursor for a list offset."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def offset_of(value: str) -> int:
    """The list offset of a cursor (ValueError when it is not one of ours)."""
    text = base64.urlsafe_b64decode(value.encode() + b"==").decode()
    prefix, _, number = text.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise ValueError("not a cursor")
    return int(number)


def template_item(spec: Mapping[str, Any], template_id: str) -> dict[str, Any]:
    """A `message_templates` item in Meta's shape from a short spec {name, language, status, body, category,
    header ("text" | "image" | "video" | "document" or {"type", "text"}), buttons (quick-reply texts or dicts)}."""
    name, language = spec.get("name"), spec.get("language", "en")
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        raise ValueError("a template needs a name and a language")
    body = str(spec.get("body") or "")
    components: list[dict[str, Any]] = []
    header = spec.get("header")
    if isinstance(header, str):
        header = {"type": header}
    if isinstance(header, Mapping):
        kind = str(header.get("type") or "text").upper()
        component: dict[str, Any] = {"type": "HEADER", "format": kind}
        if kind == "TEXT":
            component["text"] = str(header.get("text") or "")
        else:
            component["example"] = {"header_handle": ["4::" + secrets.token_hex(8)]}
        components.append(component)
    components.append({"type": "BODY", "text": body})
    buttons = []
    for button in spec.get("buttons") or []:
        if isinstance(button, str):
            buttons.append({"type": "QUICK_REPLY", "text": button})
        elif isinstance(button, Mapping):
            buttons.append({"type": str(button.get("type") or "QUICK_REPLY").upper(), "text": button.get("text", "")})
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    variables = list(dict.fromkeys(VARIABLE.findall(body)))
    named = any(not v.isdigit() for v in variables)
    return {
        "name": name,
        "parameter_format": "NAMED" if named else "POSITIONAL",
        "components": components,
        "language": language,
        "status": str(spec.get("status") or "APPROVED").upper(),
        "category": str(spec.get("category") or "MARKETING").upper(),
        "id": template_id,
    }


def body_variables(item: Mapping[str, Any]) -> list[str]:
    """The body's parameters of a template item, in order."""
    for component in item.get("components") or []:
        if component.get("type") == "BODY":
            return list(dict.fromkeys(VARIABLE.findall(str(component.get("text") or ""))))
    return []


def media_header(item: Mapping[str, Any]) -> str | None:
    """image | video | document when the template has a media header."""
    for component in item.get("components") or []:
        if component.get("type") == "HEADER" and component.get("format") in ("IMAGE", "VIDEO", "DOCUMENT"):
            return str(component["format"]).lower()
    return None


def check_template_send(item: Mapping[str, Any], components: Sequence[Any]) -> dict[str, Any]:
    """Meta's checks of a template send's components against the template: the filled-in values, or GraphError."""
    wanted = body_variables(item)
    named = item.get("parameter_format") == "NAMED"
    values: dict[str, str] = {}
    header_link = None
    payloads: list[str] = []
    for component in components:
        if not isinstance(component, Mapping):
            raise GraphError(400, 100, "Invalid parameter", details="components[] must be objects")
        kind = str(component.get("type") or "").lower()
        parameters = component.get("parameters") or []
        if not isinstance(parameters, list):
            raise GraphError(400, 100, "Invalid parameter", details="parameters must be a list")
        if kind == "body":
            given_named = [p for p in parameters if isinstance(p, Mapping) and "parameter_name" in p]
            if given_named and not named or named and len(given_named) != len(parameters):
                raise GraphError(
                    400, 132012, "Parameter format does not match format in the created template", kind="OAuthException"
                )
            for index, parameter in enumerate(parameters, start=1):
                if not isinstance(parameter, Mapping) or not isinstance(parameter.get("text"), str):
                    raise GraphError(400, 131008, "Required parameter is missing", details="body parameter text")
                values[str(parameter["parameter_name"]) if named else str(index)] = parameter["text"]
        elif kind == "header":
            kind_wanted = media_header(item)
            first = parameters[0] if parameters and isinstance(parameters[0], Mapping) else {}
            media = first.get(kind_wanted or "") if kind_wanted else None
            if kind_wanted is None or not isinstance(media, Mapping) or not isinstance(media.get("link"), str):
                raise GraphError(400, 132012, "Parameter format does not match format in the created template")
            header_link = media["link"]
        elif kind == "button":
            for parameter in parameters:
                if isinstance(parameter, Mapping) and isinstance(parameter.get("payload"), str):
                    payloads.append(parameter["payload"])
    if sorted(values) != sorted(wanted):
        raise GraphError(
            400,
            132000,
            "Number of parameters does not match the expected number of params",
            details=f"body: number of localizable_params ({len(values)}) does not match the expected ({len(wanted)})",
        )
    if media_header(item) and header_link is None:
        raise GraphError(400, 132012, "Parameter format does not match format in the created template")
    return {
        "variables": values,
        "header_kind": media_header(item),
        "header_link": header_link,
        "button_payloads": payloads,
    }
