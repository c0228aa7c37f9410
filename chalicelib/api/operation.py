"""One documented operation, and the parameter helpers the route tables share (operations.py, and the tables of
conversation_operations.py and tenant_operations.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

# (description, code, ...): an error answer of its own; a str: a shared one in `components.responses`.
ErrorAnswer = tuple[str, ...] | str


@dataclass(frozen=True)
class Operation:
    """One documented operation."""

    method: str
    path: str
    id: str
    tag: str
    summary: str
    answers: dict[int, tuple[str, type[BaseModel] | None]]
    errors: dict[int, ErrorAnswer] = field(default_factory=dict)
    description: str | None = None
    body: type[BaseModel] | None = None
    parameters: tuple[dict[str, Any] | str, ...] = ()
    auth: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def status_param(what: str, enum: str, *, extension: bool = False) -> dict[str, Any]:
    """The `?status=` parameter of a listing."""
    param = {
        "name": "status",
        "in": "query",
        "required": False,
        "description": f"Only {what} with this status (another value: `400 invalid_request`).",
        "schema": {"$ref": f"#/components/schemas/{enum}"},
    }
    return {**param, "x-extension": True} if extension else param


PAGE = ("limit", "cursor")


def query_param(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema, **extra}
