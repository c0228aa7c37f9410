"""SSM Parameter Store: a value the stack can hand a function only at run time (its own function URL)."""

from __future__ import annotations

from typing import Any


class Parameters:
    """Reads plain String parameters."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get(self, name: str) -> str:
        """The parameter's value; the client's error (ParameterNotFound, AccessDenied) when it cannot be read."""
        return str(self._client.get_parameter(Name=name)["Parameter"]["Value"])
