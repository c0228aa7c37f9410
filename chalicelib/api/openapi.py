"""The OpenAPI 3 document of this API (placeholder until the full document lands)."""

from __future__ import annotations

from typing import Any


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI document, with the deployment's base URL as its server."""
    return {"openapi": "3.1.0", "info": {"title": "Message Campaigns", "version": "1.0.0"},
            "servers": [{"url": base_url}], "paths": {}}
