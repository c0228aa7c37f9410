"""The OpenAPI document: valid OpenAPI 3.1, the same routes as the app, generated from the request and answer models."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from chalicelib.api import openapi, schemas
from chalicelib.api.openapi import document
from chalicelib.api.operations import OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://api.example.test/prod"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Codes no route can answer: the base classes' defaults (every raise names its code) and the operators' CLI.
# provider_refused and provider_unavailable: raised by a provider's templates() for the template sync, whose route
# (and its documented answers) is not there yet.
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
            if path.startswith("/webhooks/twilio/"):
                assert op["security"] == [{"twilioSignature": []}]
                assert {"403", "400"} <= set(op["responses"])
            elif path.startswith("/webhooks/whatsapp/"):
                # Meta signs each POST's body; its GET handshake carries the channel's verify token instead
                expected = "metaSignature" if method == "post" else "metaVerifyToken"
                assert op["security"] == [{expected: []}], (method, path)
                assert "403" in op["responses"] and ("400" in op["responses"]) == (method == "post")
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
    # Sessions are the contract's own now (issue 11): `send_mode` `session` is offered, with its routing target.
    assert "x-extension" not in s["CampaignIn"]["properties"]["send_mode"]
    assert "invalid_routing_target" in s["CampaignIn"]["properties"]["routing_target"]["description"]
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


# ------------------------------------------------------------------------------ generated from the models
MODELS = [*openapi.REQUEST_MODELS, *openapi.ANSWER_MODELS]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_model_is_its_component(doc: dict[str, Any], model: Any) -> None:
    # GIVEN a request or answer model and the document's component of the same name
    ours = doc["components"]["schemas"][model.__name__]
    # THEN the component has exactly the model's fields, requires the ones the model requires, and says what it is
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    assert set(ours["properties"]) == set(fields)
    required = {name for name, info in fields.items() if info.is_required()}
    assert set(ours.get("required", [])) == required
    assert ours.get("description"), model.__name__
    if model.model_config.get("extra") == "forbid":
        assert ours["additionalProperties"] is False


def _examples(node: Any) -> list[tuple[str, Any, Any]]:
    """(where, schema, example) for every example the document gives, at any depth."""
    found: list[tuple[str, Any, Any]] = []
    if isinstance(node, dict):
        for example in node.get("examples", []) if isinstance(node.get("examples"), list) else []:
            found.append(("", node, example))
        for key, value in node.items():
            found += [(f"{key}/{w}", s, e) for w, s, e in _examples(value)]
    return found


@pytest.mark.parametrize("model", openapi.REQUEST_MODELS, ids=lambda m: m.__name__)
def test_request_examples_are_valid_by_the_document_and_accepted_by_the_parser(doc: dict[str, Any], model: Any) -> None:
    from jsonschema import Draft202012Validator, FormatChecker

    # GIVEN the examples a request component gives, for itself or for one of its fields
    component = doc["components"]["schemas"][model.__name__]
    for where, schema, example in _examples(component):
        # THEN each is valid by the document
        root = {**schema, "components": doc["components"]}
        errors = list(Draft202012Validator(root, format_checker=FormatChecker()).iter_errors(example))
        assert not errors, (model.__name__, where, [e.message for e in errors])
        if not where:
            # AND a whole-body example is accepted by the parser the route uses
            schemas.parse(model, example)


def test_the_route_table_is_the_app_routes_one_operation_each() -> None:
    # GIVEN the app's routes and the table the document is assembled from
    import app

    routes = {(method, path) for path, entries in app.app.routes.items() for method in entries}
    table = [(op.method, op.path) for op in OPERATIONS]
    # THEN each route has exactly one documented operation, and the table documents no route the app lacks
    assert sorted(table) == sorted(routes)
    assert len({op.id for op in OPERATIONS}) == len(OPERATIONS)


def test_each_operation_documents_the_models_of_its_table_row(doc: dict[str, Any]) -> None:
    # GIVEN the table
    for op in OPERATIONS:
        documented = doc["paths"][op.path][op.method.lower()]
        assert documented["operationId"] == op.id
        # THEN its request body is its model's component, and each answer the model of its status
        if op.body is not None:
            content = documented["requestBody"]["content"]
            assert {"$ref": f"#/components/schemas/{op.body.__name__}"} in [c["schema"] for c in content.values()]
        else:
            assert "requestBody" not in documented
        for status, (_, model) in op.answers.items():
            answer = documented["responses"][str(status)]
            if model is not None:
                schema = answer["content"]["application/json"]["schema"]
                refs = [schema, *schema.get("oneOf", [])]
                assert {"$ref": f"#/components/schemas/{model.__name__}"} in refs, (op.id, status)


def test_the_document_says_what_the_services_check(doc: dict[str, Any]) -> None:
    # GIVEN the checks the issue named: inline upload filename, mps bounds, time formats, E.164 patterns
    s = doc["components"]["schemas"]
    upload = doc["paths"]["/v1/uploads"]["post"]
    inline_filename = {p["name"]: p for p in upload["parameters"]}["filename"]
    assert inline_filename["required"] is True
    assert inline_filename["schema"]["maxLength"] == 126 and inline_filename["schema"]["pattern"]
    assert s["UploadIn"]["properties"]["filename"]["maxLength"] == 126
    assert (s["ChannelIn"]["properties"]["mps"]["minimum"], s["ChannelIn"]["properties"]["mps"]["maximum"]) == (
        0.01,
        1000,
    )
    assert s["SendScheduled"]["properties"]["at"]["format"] == "date-time"
    assert s["ChannelIn"]["properties"]["senders"]["items"]["pattern"] == "^\\+[1-9][0-9]{1,14}$"
    assert s["Recipients"]["properties"]["numbers"]["anyOf"][0]["items"]["format"] == "e164"
    assert s["TextContent"]["properties"]["text"]["maxLength"] == 1600


def test_the_documents_bounds_are_the_services_own() -> None:
    # GIVEN the bounds and patterns the document states, and the constants the services check with
    from chalicelib.adapters.providers import twilio
    from chalicelib.services import channels, uploads

    s = document(BASE)["components"]["schemas"]
    # THEN they are the same numbers and patterns (a service changing one makes this fail until the model follows)
    assert s["ChannelIn"]["properties"]["mps"]["minimum"] == channels.MIN_MPS
    assert s["ChannelIn"]["properties"]["mps"]["maximum"] == channels.MAX_MPS
    assert s["TextContent"]["properties"]["text"]["maxLength"] == twilio.MAX_BODY_CHARS  # the only provider yet
    assert s["UploadIn"]["properties"]["filename"]["maxLength"] == uploads.MAX_FILENAME_CHARS
    assert s["UploadIn"]["properties"]["size"]["maximum"] == uploads.MAX_MEDIA_BYTES
    assert schemas.MEDIA_TYPE_PATTERN.startswith("^" + uploads._MIME_RE.pattern)
    assert all(re.match(schemas.CSV_TYPE_PATTERN, t) for t in uploads.CSV_TYPES)
    assert not re.match(schemas.CSV_TYPE_PATTERN, "image/png")
    credentials = s["Credentials"]["properties"]
    assert credentials["account_sid"]["pattern"] == f"^{twilio.ACCOUNT_SID.pattern}$"
    assert credentials["auth_token"]["pattern"] == f"^{twilio.AUTH_TOKEN.pattern}$"
    inline = {p["name"]: p for p in document(BASE)["paths"]["/v1/uploads"]["post"]["parameters"]}["filename"]
    assert inline["schema"]["pattern"] == schemas.FILENAME_PATTERN


@pytest.mark.parametrize(
    "name", ["a.csv", " a ", "ü名.png", "a b", "a/b", "a\\b", "a\x01", "\x7f", "   ", "\x85", "a\x85", "\u2003", "\t"]
)
def test_a_filename_valid_by_the_document_is_accepted_by_the_upload_service(name: str) -> None:
    from chalicelib.domain.errors import ServiceError
    from chalicelib.services import uploads

    # GIVEN a filename WHEN the document's pattern allows it THEN the upload service takes it
    try:
        uploads._check_filename(name)
        accepted = True
    except ServiceError:
        accepted = False
    if re.search(schemas.FILENAME_PATTERN, name):
        assert accepted, repr(name)
