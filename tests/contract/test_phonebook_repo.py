"""The Phonebooks port: one contract, run against the in-memory fake and against the DynamoDB repository on moto."""

from __future__ import annotations

import pytest

from chalicelib.domain.phonebooks import Phonebook, PhonebookVersion
from chalicelib.services.ports import Phonebooks
from tests.conftest import Env
from tests.fakes.phonebooks import FakePhonebooks

NOW = "2026-12-01T08:00:00Z"
LATER = "2026-12-01T09:00:00Z"


def version(name: str = "Staff", v: str = "v1") -> PhonebookVersion:
    """One PUT's fields."""
    return PhonebookVersion(
        name=name, contact_count=2, number_types={"mobile": 2, "home": 1}, version=v, object_key=f"pb/{v}.json"
    )


class PhonebooksContract:
    """What every Phonebooks implementation does."""

    @pytest.fixture
    def repo(self) -> Phonebooks:
        raise NotImplementedError

    def test_a_first_put_creates_and_reads_back(self, repo: Phonebooks) -> None:
        # GIVEN no phonebook WHEN one is put THEN nothing was replaced and it reads back as written
        assert repo.put("tn_a", "pb-1", version(), NOW) is None
        assert repo.get("tn_a", "pb-1") == Phonebook(
            tenant_id="tn_a",
            phonebook_id="pb-1",
            name="Staff",
            contact_count=2,
            number_types={"mobile": 2, "home": 1},
            version="v1",
            object_key="pb/v1.json",
            created_at=NOW,
            updated_at=NOW,
        )
        assert repo.get("tn_b", "pb-1") is None

    def test_a_second_put_replaces_keeping_created_at_and_names_what_it_replaced(self, repo: Phonebooks) -> None:
        # GIVEN a phonebook WHEN it is put again THEN the answer is the version replaced (so its object can go)
        repo.put("tn_a", "pb-1", version(), NOW)
        old = repo.put("tn_a", "pb-1", version("Renamed", "v2"), LATER)
        assert old is not None and old.version == "v1" and old.object_key == "pb/v1.json"
        got = repo.get("tn_a", "pb-1")
        assert got is not None and (got.name, got.version, got.created_at, got.updated_at) == (
            "Renamed",
            "v2",
            NOW,
            LATER,
        )

    def test_listing_is_by_id_within_the_tenant(self, repo: Phonebooks) -> None:
        # GIVEN phonebooks of two tenants WHEN one lists one per page THEN its own, by id
        for pid in ("pb-b", "pb-a"):
            repo.put("tn_a", pid, version(), NOW)
        repo.put("tn_b", "pb-0", version(), NOW)
        first = repo.list("tn_a", 1, None)
        assert [p.phonebook_id for p in first.items] == ["pb-a"] and first.next_cursor
        second = repo.list("tn_a", 1, first.next_cursor)
        assert [p.phonebook_id for p in second.items] == ["pb-b"] and second.next_cursor is None

    def test_a_delete_answers_what_it_deleted_once(self, repo: Phonebooks) -> None:
        # GIVEN a phonebook WHEN deleted twice THEN the first answers it, the second nothing
        repo.put("tn_a", "pb-1", version(), NOW)
        gone = repo.delete("tn_a", "pb-1")
        assert gone is not None and gone.object_key == "pb/v1.json"
        assert repo.delete("tn_a", "pb-1") is None and repo.get("tn_a", "pb-1") is None


class TestFakePhonebooks(PhonebooksContract):
    @pytest.fixture
    def repo(self) -> Phonebooks:
        return FakePhonebooks()


class TestMotoPhonebooks(PhonebooksContract):
    @pytest.fixture
    def repo(self, env: Env) -> Phonebooks:
        return env.deps.phonebooks
