"""`make tenant` without TABLE_NAME (devstack.admin): the operator commands against the running local stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack import admin, running
from tests.conftest import Api, Env

PORT = 18123


def _printed(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in capsys.readouterr().out.strip().splitlines())


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the command sets in os.environ is undone after the test."""
    for key in (*running.ENV_KEYS, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, os.environ.get(key, ""))
    monkeypatch.setenv("AWS_SESSION_TOKEN", os.environ.get("AWS_SESSION_TOKEN", "testing"))


def test_create_tenant_finds_the_stack_by_its_port(
    env: Env, client: Any, tmp_path: Path, clean_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a stack that announced its table and moto (as `make run` does at start), and a shell without TABLE_NAME
    running.announce(PORT, {**os.environ, **env.resources.env(), "AWS_ENDPOINT_URL": env.moto_url}, tmp_path)
    os.environ.pop("TABLE_NAME")
    os.environ.pop("AWS_ENDPOINT_URL")
    # WHEN the operator creates a tenant for that port
    assert admin.main(["--port", str(PORT), "create-tenant", "--name", "Acme PBX"], state_dir=tmp_path) == 0
    printed = _printed(capsys)
    # THEN it was created in that stack's table: its key works on the API
    assert printed["tenant_id"].startswith("tn_")
    assert Api(client, printed["api_key"]).call("GET", "/v1/campaigns")[0] == 200


def test_without_a_running_stack_it_says_how_to_start_one(
    tmp_path: Path, clean_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no stack on the port, and one that was killed (its file stayed, its process is gone)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = running.state_file(PORT + 1, tmp_path)
    stale.write_text(f'{{"pid": {int(dead.stdout)}, "port": {PORT + 1}, "env": {{"TABLE_NAME": "t"}}}}')
    for port in (PORT, PORT + 1):
        # WHEN the operator creates a tenant THEN it fails, naming `make run` and TABLE_NAME
        assert admin.main(["--port", str(port), "create-tenant", "--name", "Acme PBX"], state_dir=tmp_path) == 2
        err = capsys.readouterr().err
        assert f"no local stack is serving on port {port}" in err
        assert "make run" in err and "TABLE_NAME" in err


def test_a_stack_withdraws_its_file_when_it_stops(tmp_path: Path) -> None:
    # GIVEN a stack's file WHEN the stack stops THEN the file is gone and nothing is found on its port
    path = running.announce(PORT, {"TABLE_NAME": "t", "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "HOME": "/"}, tmp_path)
    found = running.find(PORT, tmp_path)
    assert found is not None and found.env == {"TABLE_NAME": "t", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    running.withdraw(PORT, tmp_path)
    assert not path.exists()
    assert running.find(PORT, tmp_path) is None


@pytest.mark.parametrize(("table", "module"), [(None, "devstack.admin"), ("msgcampaigns-prod", "chalicelib.admin")])
def test_make_tenant_uses_the_local_stack_unless_table_name_is_set(table: str | None, module: str) -> None:
    # GIVEN a shell with or without TABLE_NAME WHEN `make tenant` is asked what it would run
    environment = {k: v for k, v in os.environ.items() if k not in ("TABLE_NAME", "PORT", "MAKEFLAGS", "MAKELEVEL")}
    if table:
        environment["TABLE_NAME"] = table
    root = Path(__file__).resolve().parents[2]
    dry = subprocess.run(
        ["make", "-n", "tenant", "NAME=Acme PBX"], cwd=root, env=environment, capture_output=True, text=True
    )
    # THEN without it, the command against the local stack on PORT; with it, the one against that table
    assert dry.returncode == 0, dry.stderr
    command = next(line for line in dry.stdout.splitlines() if "create-tenant" in line)
    assert f"-m {module} create-tenant" in command
    assert ("PORT=8000" in command) == (table is None)
