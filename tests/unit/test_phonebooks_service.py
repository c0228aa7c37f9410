"""services/phonebooks.py on the fakes: whole-phonebook PUTs, one object per version, audiences (no moto)."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.errors import InvalidRequestError, NotFoundError, UnprocessableError
from chalicelib.domain.phonebooks import Contact, PutPhonebook
from chalicelib.services import phonebooks
from tests.fakes.deps import FakeWorld, fake_world

ALICE = Contact(name="Alice", numbers={"mobile": "+41791234567", "business": "+41415084545"})
BOB = Contact(name=None, numbers={"mobile": "+41797654321"})
EMPTY = Contact(name="Nobody", numbers={})


def put(world: FakeWorld, *contacts: Contact, name: str = "Staff", pid: str = "pb-1") -> tuple[dict[str, object], bool]:
    """PUT a phonebook for tenant tn_a."""
    return phonebooks.put_phonebook(world.deps, "tn_a", pid, PutPhonebook(name=name, contacts=contacts))


def test_a_first_put_creates_it_with_its_counts_and_contacts() -> None:
    # GIVEN no phonebook WHEN one is put THEN it is created, answered with its counts and contacts as given
    world = fake_world()
    answer, created = put(world, ALICE, BOB, EMPTY)
    assert created is True
    assert answer["contact_count"] == 3
    assert answer["number_types"] == {
        "business": 1,
        "business2": 0,
        "mobile": 2,
        "mobile2": 0,
        "home": 0,
        "home2": 0,
        "other": 0,
    }
    assert answer["contacts"] == [
        {"name": "Alice", "numbers": {"mobile": "+41791234567", "business": "+41415084545"}},
        {"numbers": {"mobile": "+41797654321"}},
        {"name": "Nobody", "numbers": {}},
    ]
    # AND GET answers the same; the contacts are one object, the item points at it
    assert phonebooks.get_phonebook(world.deps, "tn_a", "pb-1") == answer
    item = world.phonebooks.get("tn_a", "pb-1")
    assert item is not None and world.blobs.keys("phonebooks/") == [item.object_key]
    assert json.loads(world.blobs.get_bytes(item.object_key))["contacts"] == answer["contacts"]


def test_a_second_put_replaces_it_keeping_created_at_and_removes_the_old_object() -> None:
    # GIVEN a phonebook WHEN put again later THEN it is replaced (not created), created_at kept, one object left
    world = fake_world()
    first, _ = put(world, ALICE)
    world.deps.clock.offset += 60
    second, created = put(world, BOB, name="Renamed")
    assert created is False and second["created_at"] == first["created_at"] != second["updated_at"]
    item = world.phonebooks.get("tn_a", "pb-1")
    assert item is not None and world.blobs.keys("phonebooks/") == [item.object_key]
    assert phonebooks.get_phonebook(world.deps, "tn_a", "pb-1")["name"] == "Renamed"


def test_a_phonebook_with_an_invalid_number_is_refused_whole() -> None:
    # GIVEN a contact with a number that is not E.164 WHEN put THEN 422 naming it, and nothing is stored
    world = fake_world()
    with pytest.raises(UnprocessableError) as refused:
        put(world, ALICE, Contact(name="Eve", numbers={"home": "0441234567"}))
    assert refused.value.code == "invalid_phone_number"
    assert refused.value.details[0]["field"] == "contacts.1.numbers.home"
    assert world.phonebooks.phonebooks == {} and world.blobs.objects == {}


def test_a_failed_item_write_leaves_no_object(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a table that refuses the write WHEN a phonebook is put THEN the error stands and no object is left
    world = fake_world()

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(world.phonebooks, "put", refuse)
    with pytest.raises(RuntimeError):
        put(world, ALICE)
    assert world.blobs.objects == {}


def test_an_id_the_pbx_may_not_give_is_400_and_an_unknown_one_404() -> None:
    # GIVEN ids with a slash, or too long THEN PUT answers 400; GET and DELETE of unknown ids 404
    world = fake_world()
    for bad in ("a/b", "x" * 129, ""):
        with pytest.raises(InvalidRequestError):
            put(world, ALICE, pid=bad)
        with pytest.raises(NotFoundError):
            phonebooks.get_phonebook(world.deps, "tn_a", bad)
    with pytest.raises(NotFoundError):
        phonebooks.delete_phonebook(world.deps, "tn_a", "pb-none")


def test_a_delete_removes_the_item_and_its_object() -> None:
    # GIVEN a phonebook WHEN deleted THEN it and its object are gone, and a campaign finds it missing
    world = fake_world()
    put(world, ALICE)
    phonebooks.delete_phonebook(world.deps, "tn_a", "pb-1")
    assert world.phonebooks.phonebooks == {} and world.blobs.objects == {}
    with pytest.raises(phonebooks.PhonebookMissingError):
        phonebooks.audience(world.deps, "tn_a", "pb-1", "mobile")
    assert phonebooks.count_for(world.deps, "tn_a", "pb-1", "mobile") is None


def test_listing_is_by_id_without_contacts() -> None:
    # GIVEN two phonebooks WHEN listed THEN by id, each without its contacts
    world = fake_world()
    put(world, ALICE, pid="pb-b")
    put(world, BOB, pid="pb-a")
    page = phonebooks.list_phonebooks(world.deps, "tn_a", 10, None)
    assert [p["id"] for p in page["items"]] == ["pb-a", "pb-b"] and page["next_cursor"] is None
    assert all("contacts" not in p for p in page["items"])


def test_an_audience_takes_one_number_type_with_each_contacts_name() -> None:
    # GIVEN a phonebook WHEN a campaign takes its mobile numbers THEN each contact's, named when it has a name
    world = fake_world()
    put(world, ALICE, BOB, EMPTY)
    got = phonebooks.audience(world.deps, "tn_a", "pb-1", "mobile")
    assert got.entries == [("+41791234567", {"name": "Alice"}), ("+41797654321", {})]
    assert (got.contacts, got.without_number_type) == (3, 1)
    assert phonebooks.count_for(world.deps, "tn_a", "pb-1", "mobile") == 2
    assert phonebooks.count_for(world.deps, "tn_a", "pb-1", "home2") == 0
    with pytest.raises(ValueError):
        phonebooks.audience(world.deps, "tn_a", "pb-1", "fax")


def test_a_reader_whose_version_is_replaced_meanwhile_reads_the_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a reader that has read the item, and a PUT replacing the phonebook (deleting the old object) right then
    from tests.conftest import once_before

    world = fake_world()
    put(world, ALICE)
    ran = once_before(monkeypatch, world.blobs, "get_bytes", lambda: put(world, BOB, name="New"))
    # WHEN it reads the object THEN it reads the item again and gets the new version whole
    got = phonebooks.get_phonebook(world.deps, "tn_a", "pb-1")
    assert ran == [True] and got["name"] == "New" and got["contacts"] == [{"numbers": {"mobile": "+41797654321"}}]
