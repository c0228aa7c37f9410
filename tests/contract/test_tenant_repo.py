"""The Tenants port: one contract, run against the in-memory fake and against the DynamoDB repository on moto."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamo.tenants import TenantRepository
from chalicelib.domain.errors import TenantExistsError, TenantNotFoundError
from chalicelib.domain.tenants import Tenant
from chalicelib.services.ports import Tenants
from tests.conftest import Env, once_before
from tests.fakes.tenants import FakeTenants

NOW = "2026-12-01T08:00:00Z"


def tenant(tenant_id: str = "tn_a", key_hash: str = "h1") -> Tenant:
    """A tenant to store."""
    return Tenant(tenant_id=tenant_id, name="Acme PBX", api_key_hash=key_hash, created_at=NOW)


class TenantsContract:
    """What every Tenants implementation does."""

    @pytest.fixture
    def repo(self) -> Tenants:
        raise NotImplementedError

    def test_a_created_tenant_reads_back_and_its_key_finds_it(self, repo: Tenants) -> None:
        # GIVEN a new tenant THEN it reads back with no campaigns, and its key (only its key) names it
        repo.create(tenant())
        assert repo.get("tn_a") == tenant() and repo.get("tn_a").campaign_count == 0  # type: ignore[union-attr]
        assert repo.tenant_for_key("h1") == "tn_a"
        assert repo.tenant_for_key("h2") is None and repo.get("tn_b") is None

    def test_a_tenant_id_or_a_key_given_twice_is_refused(self, repo: Tenants) -> None:
        # GIVEN a tenant WHEN its id, or its key hash, is given to a new tenant THEN TenantExistsError, nothing written
        repo.create(tenant())
        with pytest.raises(TenantExistsError):
            repo.create(tenant(key_hash="h2"))
        with pytest.raises(TenantExistsError):
            repo.create(tenant("tn_b", key_hash="h1"))
        assert repo.tenant_for_key("h2") is None and repo.get("tn_b") is None
        assert repo.tenant_for_key("h1") == "tn_a"

    def test_a_rotation_retires_the_old_key_at_once(self, repo: Tenants) -> None:
        # GIVEN a tenant WHEN its key is rotated twice THEN only the newest key names it
        repo.create(tenant())
        repo.rotate_key("tn_a", "h2", NOW)
        repo.rotate_key("tn_a", "h3", NOW)
        assert [repo.tenant_for_key(h) for h in ("h1", "h2", "h3")] == [None, None, "tn_a"]
        got = repo.get("tn_a")
        assert got is not None and got.api_key_hash == "h3"

    def test_rotating_an_unknown_tenant_writes_no_key(self, repo: Tenants) -> None:
        # GIVEN no tenant WHEN its key is rotated THEN TenantNotFoundError, and the key names nobody
        with pytest.raises(TenantNotFoundError):
            repo.rotate_key("tn_nope", "h9", NOW)
        assert repo.tenant_for_key("h9") is None

    def test_an_event_url_is_set_replaced_and_removed(self, repo: Tenants) -> None:
        # GIVEN a tenant WHEN its event_url is set, replaced, then removed THEN each answer and read shows it
        repo.create(tenant())
        assert repo.get("tn_a").event_url is None  # type: ignore[union-attr]
        assert repo.set_event_url("tn_a", "https://pbx.example.com/a").event_url == "https://pbx.example.com/a"
        assert repo.set_event_url("tn_a", "https://pbx.example.com/b") == repo.get("tn_a")
        assert repo.get("tn_a").event_url == "https://pbx.example.com/b"  # type: ignore[union-attr]
        cleared = repo.set_event_url("tn_a", None)
        assert cleared.event_url is None and cleared == repo.get("tn_a")
        # AND the rest of the tenant is as it was
        assert cleared.api_key_hash == "h1" and cleared.name == "Acme PBX"

    def test_an_event_url_for_no_tenant_writes_nothing(self, repo: Tenants) -> None:
        # GIVEN no tenant WHEN an event_url is set THEN TenantNotFoundError, and no tenant appears
        with pytest.raises(TenantNotFoundError):
            repo.set_event_url("tn_nope", "https://pbx.example.com/a")
        assert repo.get("tn_nope") is None


class TestFakeTenants(TenantsContract):
    @pytest.fixture
    def repo(self) -> Tenants:
        return FakeTenants()


class TestMotoTenants(TenantsContract):
    @pytest.fixture
    def repo(self, env: Env) -> Tenants:
        return env.deps.tenants

    def test_a_rotation_that_loses_to_another_replaces_the_winners_key(
        self, repo: Tenants, env: Env, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # GIVEN a rotation (to h3) that has read key h1, and another rotation (to h2) landing just before it writes
        repo.create(tenant())
        table = env.deps.tenants.table
        ran = once_before(monkeypatch, table, "tx", lambda: TenantRepository(table).rotate_key("tn_a", "h2", NOW))
        # WHEN the first rotation writes THEN it loses once and replaces h2 instead (ALL_OLD names it), no re-read
        repo.rotate_key("tn_a", "h3", NOW)
        # AND exactly one key works: the last one written
        assert ran == [True]
        assert [repo.tenant_for_key(h) for h in ("h1", "h2", "h3")] == [None, None, "tn_a"]
