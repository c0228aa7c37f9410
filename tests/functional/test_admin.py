"""Operator commands against the table (moto)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import admin
from tests.conftest import Api, Env


def _printed(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in capsys.readouterr().out.strip().splitlines())


def test_create_tenant_then_rotate_key(env: Env, client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an operator creates a tenant with the command
    assert admin.main(["create-tenant", "--name", "Acme PBX"]) == 0
    first = _printed(capsys)
    api = Api(client, first["api_key"])
    # THEN its key works on the API
    assert api.call("GET", "/v1/campaigns")[0] == 200
    # WHEN the key is rotated
    assert admin.main(["rotate-key", "--tenant", first["tenant_id"]]) == 0
    second = _printed(capsys)
    # THEN the old key is refused and the new one works
    assert second["api_key"] != first["api_key"]
    assert api.call("GET", "/v1/campaigns")[0] == 401
    assert api.call("GET", "/v1/campaigns", key=second["api_key"])[0] == 200


def test_rotate_unknown_tenant_fails_cleanly(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN no such tenant WHEN its key is rotated THEN the command fails with a clear message
    assert admin.main(["rotate-key", "--tenant", "tn_nope"]) == 1
    assert "not_found" in capsys.readouterr().err
