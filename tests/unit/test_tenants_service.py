"""services/tenants.py on the fakes: tenants, keys, authentication (no moto, no network)."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import NotFoundError, UnauthorizedError
from chalicelib.services import tenants
from tests.fakes.deps import fake_world


def test_a_new_tenants_key_authenticates_it_and_only_its_hash_is_kept() -> None:
    # GIVEN a new tenant
    world = fake_world()
    tenant_id, key = tenants.create_tenant(world.deps, "Acme PBX")
    # THEN its key names it, and what is stored is the key's hash, never the key
    assert tenants.authenticate(world.deps, f"Bearer {key}") == tenant_id
    stored = world.tenants.get(tenant_id)
    assert stored is not None and stored.name == "Acme PBX" and stored.api_key_hash == tenants.hash_key(key)
    assert key not in repr(world.tenants.tenants)


def test_a_given_key_is_the_tenants_key() -> None:
    # GIVEN a tenant created with a chosen key (the local stack's) THEN that key works
    world = fake_world()
    tenant_id, key = tenants.create_tenant(world.deps, "Local PBX", api_key="dev-key")
    assert key == "dev-key" and tenants.authenticate(world.deps, "Bearer dev-key") == tenant_id


@pytest.mark.parametrize(
    "header", [None, "", "Basic abc", "Bearer", "Bearer ", "Bearer wrong-key", "Bearer " + "k" * 600, "Bearer kéy"]
)
def test_anything_but_a_good_bearer_key_is_401(header: str | None) -> None:
    # GIVEN a tenant WHEN a request carries no, a malformed or a wrong key THEN 401
    world = fake_world()
    tenants.create_tenant(world.deps, "Acme PBX")
    with pytest.raises(UnauthorizedError):
        tenants.authenticate(world.deps, header)


def test_a_rotated_key_stops_working_at_once() -> None:
    # GIVEN a tenant WHEN its key is rotated THEN the old key is refused and the new one works
    world = fake_world()
    tenant_id, old = tenants.create_tenant(world.deps, "Acme PBX")
    new = tenants.rotate_key(world.deps, tenant_id)
    assert new != old
    with pytest.raises(UnauthorizedError):
        tenants.authenticate(world.deps, f"Bearer {old}")
    assert tenants.authenticate(world.deps, f"bearer  {new} ") == tenant_id


def test_rotating_an_unknown_tenant_is_not_found() -> None:
    # GIVEN no such tenant WHEN its key is rotated THEN 404
    with pytest.raises(NotFoundError):
        tenants.rotate_key(fake_world().deps, "tn_nope")
