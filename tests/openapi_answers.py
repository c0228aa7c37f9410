"""Check an answer against the generated OpenAPI document: its status is documented for the operation, and its JSON
body matches that answer's schema. tests/conftest.py runs it on every answer the functional tests' client sees."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from chalicelib.api.openapi import document

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


class UndocumentedAnswer(AssertionError):
    """The service answered something its OpenAPI document does not describe."""


@functools.cache
def _doc() -> dict[str, Any]:
    return document("/")


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for path in _doc()["paths"]:
        pattern = re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(path))
        routes.append((re.compile(f"^{pattern}$"), path))
    return routes


@functools.cache
def _validator(pointer: str) -> Draft202012Validator:
    schema = {"$ref": pointer, "components": _doc()["components"], "paths": _doc()["paths"]}
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(answer: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """An answer object with its shared response resolved, and the pointer of its component if it is one."""
    ref = answer.get("$ref")
    if ref is None:
        return answer, None
    name = ref.rsplit("/", 1)[-1]
    return _doc()["components"]["responses"][name], _pointer("components", "responses", name)


def check_answer(method: str, path: str, status: int, headers: dict[str, str], body: bytes | str) -> None:
    """Raise UndocumentedAnswer unless the document describes this answer (status, content type, JSON body)."""
    route = path.split("?", 1)[0]
    template = next((t for pattern, t in _routes() if pattern.match(route)), None)
    if template is None:
        return  # not a route of the API (the gateway's own answer to an unknown path)
    operation = _doc()["paths"][template].get(method.lower())
    if operation is None:
        base = _pointer("components", "responses", "MethodNotAllowed")
        answer: dict[str, Any] = _doc()["components"]["responses"]["MethodNotAllowed"]
    elif str(status) in operation["responses"]:
        base = _pointer("paths", template, method.lower(), "responses", str(status))
        answer, shared = _resolve(operation["responses"][str(status)])
        base = shared or base
    elif status >= 500:
        # A bug is answered in the error shape (`500 internal_error`, named in the document's overview).
        _validate(_pointer("components", "schemas", "Error"), body, method, path, status)
        return
    else:
        raise UndocumentedAnswer(f"{method} {path} answered {status}, which its operation does not document")
    content = answer.get("content")
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if not content:
        if text:
            raise UndocumentedAnswer(f"{method} {path} answered {status} with a body; the document says none")
        return
    media = (headers.get("Content-Type") or headers.get("content-type") or "").split(";")[0].strip()
    if media not in content:
        raise UndocumentedAnswer(f"{method} {path} answered {status} as {media!r}, not as {sorted(content)}")
    if media == "application/json":
        _validate(base + "/content/application~1json/schema", text, method, path, status)


def _validate(pointer: str, text: bytes | str, method: str, path: str, status: int) -> None:
    instance = json.loads(text)
    errors = sorted(_validator(pointer).iter_errors(instance), key=str)
    if errors:
        problems = [f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:5]]
        raise UndocumentedAnswer(f"{method} {path} answered {status} against its documented schema: {problems}")
