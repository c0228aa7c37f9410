"""The OpenAPI document: valid OpenAPI 3.1, the same routes as the app, request schemas that match the parsers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from chalicelib.api import schemas
from chalicelib.api.openapi import document

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://api.example.test/prod"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Component name -> the pydantic shape it documents (the names are the same on purpose).
REQUEST_SHAPES = [
    schemas.Credentials,
    schemas.ChannelIn,
    schemas.ChannelPatch,
    schemas.PhonebookNumbers,
    schemas.PhonebookContact,
    schemas.PhonebookIn,
    schemas.PhonebookRef,
    schemas.Recipients,
    schemas.ColumnRef,
    schemas.TextContent,
    schemas.FileContent,
    schemas.TemplateContent,
    schemas.SendNow,
    schemas.SendScheduled,
    schemas.SendDraft,
    schemas.RoutingTarget,
    schemas.CampaignIn,
    schemas.CampaignPatch,
    schemas.SendIn,
    schemas.UploadIn,
]
# Codes no route can answer: the base classes' defaults (every raise names its code) and the operators' CLI.
UNROUTED_CODES = {"conflict", "unprocessable", "tenant_exists"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document(BASE)


def _operations(doc: dict[str, Any]) -> dict[str, set[str]]:
    return {path: {m.upper() for m in item if m in HTTP_METHODS} for path, item in doc["paths"].items()}


def test_document_is_valid_openapi_31(doc: dict[str, Any]) -> None:
    # GIVEN the document WHEN it is validated THEN it is OpenAPI 3.1 with every $ref resolving
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    assert doc["servers"] == [{"url": BASE, "description": "This deployment."}]


def test_document_is_json_and_a_fresh_copy_each_time(doc: dict[str, Any]) -> None:
    # GIVEN a served copy changed by a caller WHEN the document is asked for again THEN it is intact
    json.dumps(doc, allow_nan=False)
    document(BASE)["paths"].clear()
    assert document(BASE) == doc


def test_every_route_is_documented_with_its_methods_and_nothing_else() -> None:
    # GIVEN the routes registered on the Chalice app
    import app

    routes = {path: set(entries) for path, entries in app.app.routes.items()}
    # THEN the document has exactly those paths, each with exactly those methods
    assert _operations(document(BASE)) == routes


def test_operations_have_ids_security_and_error_shapes(doc: dict[str, Any]) -> None:
    ids = []
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS & set(item):
            op = item[method]
            ids.append(op["operationId"])
            public = path == "/v1/health" or path.startswith("/webhooks/")
            # /v1 needs the bearer key except health; webhooks are signed instead
            assert ("security" in op) == public, (method, path)
            if path.startswith("/webhooks/"):
                assert op["security"] == [{"twilioSignature": []}]
                assert {"403", "400"} <= set(op["responses"])
            elif path != "/v1/health":
                assert "401" in op["responses"], (method, path)
            if "requestBody" in op and path.startswith("/v1/"):
                assert {"400", "413", "415"} <= set(op["responses"]), (method, path)
            # A PUT creates under the PBX's own id: it has nothing to find, so no 404.
            if "{" in path and path.startswith("/v1/") and method != "put":
                assert "404" in op["responses"], (method, path)
            for status, response in op["responses"].items():
                if int(status) >= 400 and "$ref" not in response:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    assert len(ids) == len(set(ids))
    assert doc["security"] == [{"bearer": []}]
    assert doc["components"]["securitySchemes"]["bearer"] == {
        **doc["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }


def _codes_in_source() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'\bcode="([a-z_]+)"', text))
        codes |= set(re.findall(r'^\s+code = "([a-z_]+)"', text, flags=re.M))
        # An audience that cannot be resolved: a 422 with that code on create/edit/send (later a stop_reason).
        codes |= set(re.findall(r'AudienceGoneError\(\s*"([a-z_]+)"', text))
    return codes


def _documented_codes(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        code = node.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
        found |= set(code.get("enum", []))
        for value in node.values():
            found |= _documented_codes(value)
    elif isinstance(node, list):
        for value in node:
            found |= _documented_codes(value)
    return found


def test_every_error_code_the_service_raises_is_documented(doc: dict[str, Any]) -> None:
    # GIVEN every stable code named in the code base
    raised = _codes_in_source() - UNROUTED_CODES
    assert {"invalid_request", "invalid_phone_number", "channel_in_use", "try_again"} <= raised
    # THEN each is a documented value of some answer's error code (405 and 500 are answered by the middleware)
    documented = _documented_codes(doc)
    assert raised - {"internal_error"} <= documented, raised - documented
    assert "internal_error" in doc["info"]["description"]
    # AND the document claims no code the service cannot answer
    assert documented <= raised | {"method_not_allowed"}


def test_extensions_to_the_contract_are_marked(doc: dict[str, Any]) -> None:
    s = doc["components"]["schemas"]
    assert s["CampaignResult"]["properties"]["read"]["x-extension"] is True
    assert s["CampaignResult"]["properties"]["skipped"]["x-extension"] is True
    assert s["Channel"]["properties"]["webhooks"]["x-extension"] is True
    assert s["ChannelIn"]["properties"]["mps"]["x-extension"] is True
    assert "1 for `twilio`" in s["ChannelIn"]["properties"]["mps"]["description"]
    assert s["CampaignStatus"]["x-extension"] is True
    assert s["CampaignIn"]["properties"]["send_mode"]["x-extension"] is True
    assert "unsupported_send_mode" in s["CampaignIn"]["properties"]["send_mode"]["description"]
    # MMS, CSV uploads and phonebook audiences are the contract's own now; templates are refused (x-extension).
    assert s["TemplateContent"]["x-extension"] is True and "x-extension" not in s["FileContent"]
    assert "x-extension" not in s["Recipients"]["properties"]["upload_id"]
    assert "x-extension" not in s["Recipients"]["properties"]["phonebook"]
    for name in ("stop_reason", "audience_report", "recipients"):
        assert s["Campaign"]["properties"][name]["x-extension"] is True, name
    assert "recipients" not in s["Campaign"]["required"]  # single-campaign answers only, not list items
    assert s["Recipient"]["properties"]["variables"]["x-extension"] is True
    assert s["Upload"]["properties"]["stage"]["x-extension"] is True
    assert "campaign_not_retryable" in doc["info"]["x-extension-codes"]
    hook = doc["paths"]["/webhooks/twilio/{channel_id}/status"]["post"]
    assert {p["name"]: p for p in hook["parameters"]}["a"]["x-extension"] is True
    assert "unsupported_channel" in s["ChannelIn"]["properties"]["type"]["description"]
    assert "unsupported_channel" in s["ChannelIn"]["properties"]["provider"]["description"]
    r = doc["components"]["responses"]
    assert r["PayloadTooLarge"]["x-extension"] is True and "5 MB" in r["PayloadTooLarge"]["description"]
    assert r["MethodNotAllowed"]["x-extension"] is True and r["TryAgain"]["x-extension"] is True


# ------------------------------------------------------------------------------ request schemas mirror schemas.py
_KEYWORDS = ("const", "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum")


def _shape(node: dict[str, Any], defs: dict[str, Any]) -> Any:
    """What a schema accepts, with the ways of writing it (titles, descriptions, $defs vs components) removed."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if "oneOf" in defs.get(name, {}):  # a named union (Content, SendTime) that pydantic writes inline
            return _shape(defs[name], defs)
        return ("ref", name)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives is not None:
        shapes = {_shape(a, defs) for a in alternatives}
        if ("type", "integer") in shapes and ("type", "number") in shapes:
            shapes.discard(("type", "integer"))  # int | float is a number
        return ("union", frozenset(shapes)) if len(shapes) > 1 else next(iter(shapes))
    kind = node.get("type")
    if "const" in node:
        return ("const", node["const"])
    if "enum" in node:
        return ("enum", frozenset(node["enum"]))
    if kind == "object":
        extra = node.get("additionalProperties", True)
        return (
            "object",
            frozenset((k, _shape(v, defs)) for k, v in node.get("properties", {}).items()),
            frozenset(node.get("required", [])),
            _shape(extra, defs) if isinstance(extra, dict) else extra,
        )
    if kind == "array":
        return ("array", _shape(node.get("items", {}), defs), node.get("minItems"), node.get("maxItems"))
    if kind is None:
        return ("any",)
    return ("type", kind, *((k, node[k]) for k in _KEYWORDS if k in node))


@pytest.mark.parametrize("model", REQUEST_SHAPES, ids=lambda m: m.__name__)
def test_request_schema_mirrors_the_parser(doc: dict[str, Any], model: Any) -> None:
    # GIVEN the pydantic shape the API parses a body with, and the document's component of the same name
    theirs = model.model_json_schema()
    ours = doc["components"]["schemas"][model.__name__]
    # THEN they accept the same fields, types, bounds and required fields, and refuse unknown fields
    assert ours["additionalProperties"] is False
    assert _shape(ours, doc["components"]["schemas"]) == _shape(theirs, theirs.get("$defs", {}))


@pytest.mark.parametrize(
    ("union", "members"),
    [
        ("Content", {"text": "TextContent", "file": "FileContent", "template": "TemplateContent"}),
        ("SendTime", {"now": "SendNow", "scheduled": "SendScheduled", "draft": "SendDraft"}),
    ],
)
def test_discriminated_unions_mirror_the_parser(doc: dict[str, Any], union: str, members: dict[str, str]) -> None:
    node = doc["components"]["schemas"][union]
    assert node["discriminator"]["propertyName"] == "type"
    assert node["discriminator"]["mapping"] == {k: f"#/components/schemas/{v}" for k, v in members.items()}
    assert {ref["$ref"].rsplit("/", 1)[-1] for ref in node["oneOf"]} == set(members.values())
    owner = {"Content": "content", "SendTime": "send_time"}[union]
    parsed = schemas.CampaignIn.model_json_schema()["properties"][owner]
    assert {ref["$ref"].rsplit("/", 1)[-1] for ref in parsed["oneOf"]} == set(members.values())
