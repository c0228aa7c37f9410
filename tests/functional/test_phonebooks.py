"""Phonebooks through the API on moto: whole-phonebook PUTs, one S3 object per version, isolation, the campaign view."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.api import commands
from chalicelib.api.schemas import PhonebookIn
from chalicelib.services import phonebooks
from chalicelib.services.tenants import create_tenant
from tests.conftest import Api, Env, once_before

ALICE_MOBILE = "+41791234567"
ALICE_WORK = "+41445084545"
BOB_WORK = "+41415084545"
CAROL_MOBILE = "+14155550100"


def book(name: str = "Team", contacts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A phonebook body; by default three contacts, one without a name and one without numbers."""
    if contacts is None:
        contacts = [
            {"name": "Alice", "numbers": {"mobile": ALICE_MOBILE, "business": ALICE_WORK}},
            {"name": "Bob", "numbers": {"business": BOB_WORK}},
            {"numbers": {"mobile": CAROL_MOBILE}},
            {"name": "Nobody", "numbers": {}},
        ]
    return {"name": name, "contacts": contacts}


def objects(env: Env) -> list[str]:
    """Every phonebook object in the bucket."""
    return env.deps.blobs.keys("phonebooks/")


def stored_contacts(env: Env, key: str) -> Any:
    """A phonebook object as S3 holds it, read with a client of its own."""
    body = boto3.client("s3").get_object(Bucket=env.resources.upload_bucket, Key=key)["Body"].read()
    return json.loads(body)["contacts"]


def test_put_creates_then_replaces_the_whole_phonebook_and_drops_the_old_object(
    env: Env, api: Api, tenant: tuple[str, str]
) -> None:
    # GIVEN no phonebook WHEN the PBX pushes one
    status, created = api.call("PUT", "/v1/phonebooks/pb-1", book())
    # THEN it is created (201) with its counts, and its contacts as stored (name only when given)
    assert status == 201, created
    assert created["id"] == "pb-1" and created["name"] == "Team" and created["contact_count"] == 4
    assert created["number_types"] == {
        "business": 2,
        "business2": 0,
        "mobile": 2,
        "mobile2": 0,
        "home": 0,
        "home2": 0,
        "other": 0,
    }
    assert created["contacts"][2] == {"numbers": {"mobile": CAROL_MOBILE}}
    assert created["contacts"][3] == {"name": "Nobody", "numbers": {}}
    assert created["created_at"] == created["updated_at"]
    # AND the contacts are one S3 object under the tenant and phonebook, not in the table
    first = objects(env)
    assert len(first) == 1 and first[0].startswith(f"phonebooks/{tenant[0]}/pb-1/") and first[0].endswith(".json")
    assert stored_contacts(env, first[0]) == created["contacts"]
    assert ALICE_MOBILE not in json.dumps(boto3.client("dynamodb").scan(TableName=env.resources.table_name)["Items"])
    assert api.call("GET", "/v1/phonebooks/pb-1") == (200, created)
    # WHEN, later, it is pushed again with other contacts
    env.deps.clock.offset += 3600
    status, replaced = api.call("PUT", "/v1/phonebooks/pb-1", book("Team B", [{"numbers": {"home": BOB_WORK}}]))
    # THEN it is replaced (200): the old contacts are gone, created_at is kept
    assert status == 200, replaced
    assert replaced["name"] == "Team B" and replaced["contacts"] == [{"numbers": {"home": BOB_WORK}}]
    assert replaced["contact_count"] == 1 and replaced["number_types"]["home"] == 1
    assert replaced["number_types"]["mobile"] == 0
    assert replaced["created_at"] == created["created_at"] and replaced["updated_at"] > created["updated_at"]
    assert api.call("GET", "/v1/phonebooks/pb-1") == (200, replaced)
    # AND the old version's object is deleted, the new one is the only one
    second = objects(env)
    assert len(second) == 1 and second != first
    assert stored_contacts(env, second[0]) == replaced["contacts"]


def test_list_pages_by_id_without_contacts(api: Api) -> None:
    # GIVEN three phonebooks pushed out of order
    for pid in ("c", "a", "b"):
        assert api.call("PUT", f"/v1/phonebooks/{pid}", book(f"Book {pid}"))[0] == 201
    # WHEN they are listed two at a time
    status, page1 = api.call("GET", "/v1/phonebooks?limit=2")
    assert status == 200, page1
    status, page2 = api.call("GET", f"/v1/phonebooks?limit=2&cursor={page1['next_cursor']}")
    assert status == 200, page2
    # THEN the pages cover them all once, by id, and say where the list ends
    assert [p["id"] for p in page1["items"]] == ["a", "b"] and page1["next_cursor"]
    assert [p["id"] for p in page2["items"]] == ["c"] and page2["next_cursor"] is None
    # AND list items carry the counts but not the contacts
    item = page1["items"][0]
    assert "contacts" not in item and item["name"] == "Book a" and item["contact_count"] == 4
    assert item["number_types"]["business"] == 2
    assert api.call("GET", "/v1/phonebooks")[1]["next_cursor"] is None


def test_delete_is_204_then_404_and_removes_the_contacts(env: Env, api: Api) -> None:
    # GIVEN a phonebook
    assert api.call("PUT", "/v1/phonebooks/pb-1", book())[0] == 201
    # WHEN it is deleted
    status, body = api.call("DELETE", "/v1/phonebooks/pb-1")
    # THEN 204, it is gone from reads and lists, and so is its S3 object
    assert status == 204 and body is None
    status, body = api.call("GET", "/v1/phonebooks/pb-1")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert api.call("GET", "/v1/phonebooks")[1]["items"] == []
    assert objects(env) == []
    # AND deleting it again is 404; pushing it again creates it anew (201)
    assert api.call("DELETE", "/v1/phonebooks/pb-1")[0] == 404
    assert api.call("PUT", "/v1/phonebooks/pb-1", book())[0] == 201


def test_another_tenants_phonebook_is_404_and_its_id_is_free(env: Env, api: Api, tenant: tuple[str, str]) -> None:
    # GIVEN tenant A's phonebook and another tenant B
    status, mine = api.call("PUT", "/v1/phonebooks/shared-id", book())
    assert status == 201
    other_id, other_key = create_tenant(env.deps, "Other PBX")
    # WHEN B reads, lists or deletes it THEN it does not exist for B
    for method in ("GET", "DELETE"):
        status, body = api.call(method, "/v1/phonebooks/shared-id", key=other_key)
        assert status == 404 and body["error"]["code"] == "not_found", (method, body)
    assert api.call("GET", "/v1/phonebooks", key=other_key)[1]["items"] == []
    assert phonebooks.count_for(env.deps, other_id, "shared-id", "mobile") is None
    with pytest.raises(phonebooks.PhonebookMissingError):
        phonebooks.audience(env.deps, other_id, "shared-id", "mobile")
    # WHEN B pushes a phonebook with the same id THEN it is B's own (201), and A's is untouched
    status, theirs = api.call("PUT", "/v1/phonebooks/shared-id", book("Theirs", []), key=other_key)
    assert status == 201 and theirs["contact_count"] == 0
    assert api.call("GET", "/v1/phonebooks/shared-id") == (200, mine)
    assert len(objects(env)) == 2


def test_invalid_numbers_are_422_listing_each_and_nothing_is_stored(env: Env, api: Api) -> None:
    # GIVEN a stored phonebook
    status, before = api.call("PUT", "/v1/phonebooks/pb-1", book())
    assert status == 201
    keys = objects(env)
    # WHEN a replacement has numbers that are not E.164: no plus, spaces, Arabic-Indic digits, too short, empty
    bad: list[dict[str, Any]] = [
        {"name": "A", "numbers": {"mobile": ALICE_MOBILE, "business": "0791234567"}},
        {"name": "B", "numbers": {"home": "+41 79 123 45 67"}},
        {"numbers": {"other": "+٤١٧٩١٢٣٤٥٦٧", "mobile2": "+1999"}},
        {"numbers": {"home2": ""}},
    ]
    status, body = api.call("PUT", "/v1/phonebooks/pb-1", book("Broken", bad))
    # THEN 422 invalid_phone_number names each offender by contact and type, with its value and a reason
    assert status == 422, body
    assert body["error"]["code"] == "invalid_phone_number"
    details = body["error"]["details"]
    assert [(d["field"], d["value"]) for d in details] == [
        ("contacts.0.numbers.business", "0791234567"),
        ("contacts.1.numbers.home", "+41 79 123 45 67"),
        ("contacts.2.numbers.mobile2", "+1999"),
        ("contacts.2.numbers.other", "+٤١٧٩١٢٣٤٥٦٧"),
        ("contacts.3.numbers.home2", ""),
    ]
    assert all(d["reason"] for d in details)
    # AND the stored phonebook and its object are unchanged, and no new object was left behind
    assert api.call("GET", "/v1/phonebooks/pb-1") == (200, before)
    assert objects(env) == keys
    # WHEN a new phonebook has 150 bad numbers THEN the first 100 are listed and nothing is created
    many = [{"numbers": {"mobile": f"00{i}"}} for i in range(150)]
    status, body = api.call("PUT", "/v1/phonebooks/pb-2", book("Many", many))
    assert status == 422 and len(body["error"]["details"]) == 100
    assert body["error"]["details"][99]["field"] == "contacts.99.numbers.mobile"
    assert "150" in body["error"]["message"]
    assert api.call("GET", "/v1/phonebooks/pb-2")[0] == 404
    assert objects(env) == keys


@pytest.mark.parametrize(
    ("label", "body", "field"),
    [
        ("unknown number type", book(contacts=[{"numbers": {"fax": ALICE_MOBILE}}]), "contacts.0.numbers.fax"),
        ("number type in capitals", book(contacts=[{"numbers": {"Mobile": ALICE_MOBILE}}]), "contacts.0.numbers"),
        ("unknown contact field", book(contacts=[{"email": "a@b.c", "numbers": {}}]), "contacts.0.email"),
        ("unknown top-level field", {**book(), "owner": "x"}, "owner"),
        ("number not a string", book(contacts=[{"numbers": {"mobile": 41791234567}}]), "contacts.0.numbers.mobile"),
        ("numbers as a list", book(contacts=[{"numbers": [ALICE_MOBILE]}]), "contacts.0.numbers"),
        ("no name", {"contacts": []}, "name"),
        ("empty name", book(""), "name"),
        ("name of 201 characters", book("x" * 201), "name"),
        ("contact name of 201 characters", book(contacts=[{"name": "x" * 201}]), "contacts.0.name"),
        ("no contacts", {"name": "Team"}, "contacts"),
        ("contacts null", {"name": "Team", "contacts": None}, "contacts"),
        ("100,001 contacts", book(contacts=[{}] * 100_001), "contacts"),
    ],
)
def test_malformed_phonebooks_are_400_and_store_nothing(
    env: Env, api: Api, label: str, body: dict[str, Any], field: str
) -> None:
    # WHEN the PBX pushes a phonebook of the wrong shape
    status, answer = api.call("PUT", "/v1/phonebooks/pb-1", body)
    # THEN 400 invalid_request naming the field, and nothing exists
    assert status == 400, (label, answer)
    assert answer["error"]["code"] == "invalid_request"
    assert any(d["field"].startswith(field) for d in answer["error"]["details"]), answer["error"]["details"]
    assert api.call("GET", "/v1/phonebooks/pb-1")[0] == 404
    assert objects(env) == []


def test_the_limits_themselves_are_accepted(api: Api) -> None:
    # GIVEN a name of 200 characters, 100,000 contacts (without numbers) and a contact name of 200 characters
    contacts: list[dict[str, Any]] = [{}] * 99_999 + [{"name": "y" * 200, "numbers": {"other": ALICE_MOBILE}}]
    status, body = api.call("PUT", "/v1/phonebooks/big", book("x" * 200, contacts))
    # THEN it is stored and read back whole
    assert status == 201, str(body)[:300]
    assert body["contact_count"] == 100_000 and body["number_types"]["other"] == 1
    status, got = api.call("GET", "/v1/phonebooks/big")
    assert status == 200 and len(got["contacts"]) == 100_000 and got["contacts"][-1]["name"] == "y" * 200


@pytest.mark.parametrize("bad_id", ["x" * 129, "ключ", "a b", "a,b", "pb+1", "pb%1", "pb@1", "\ud800", "'"])
def test_bad_phonebook_ids_are_400_on_put_and_404_on_get_and_delete(env: Env, api: Api, bad_id: str) -> None:
    # WHEN the PBX pushes a phonebook under an id outside 1-128 of [A-Za-z0-9._:~-]
    status, body = api.call("PUT", f"/v1/phonebooks/{bad_id}", book())
    # THEN 400 invalid_request about the id, and nothing is stored
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request" and body["error"]["details"][0]["field"] == "phonebook_id"
    assert objects(env) == []
    assert api.call("GET", "/v1/phonebooks")[1]["items"] == []
    # AND reading or deleting such an id is simply not found
    for method in ("GET", "DELETE"):
        status, body = api.call(method, f"/v1/phonebooks/{bad_id}")
        assert status == 404 and body["error"]["code"] == "not_found", (method, body)


def test_ids_at_the_edges_of_the_rule_are_accepted(api: Api) -> None:
    # GIVEN ids of 128 characters and of every allowed punctuation
    for pid in ("x" * 128, "A.b_c:d~e-f0", "1", ".."):
        # WHEN pushed THEN created, and read back under the same id
        status, body = api.call("PUT", f"/v1/phonebooks/{pid}", book())
        assert status == 201, (pid, body)
        assert api.call("GET", f"/v1/phonebooks/{pid}")[1]["id"] == pid


def test_audience_and_count_for_give_a_campaign_its_numbers_in_order(
    env: Env, api: Api, tenant: tuple[str, str]
) -> None:
    # GIVEN a phonebook where one number appears twice and some contacts lack a mobile
    contacts: list[dict[str, Any]] = [
        {"name": "Alice", "numbers": {"mobile": ALICE_MOBILE, "business": ALICE_WORK}},
        {"name": "Bob", "numbers": {"business": BOB_WORK}},
        {"numbers": {"mobile": CAROL_MOBILE}},
        {"name": "", "numbers": {"mobile": BOB_WORK}},
        {"name": "Alice again", "numbers": {"mobile": ALICE_MOBILE}},
        {"name": "Nobody"},
    ]
    assert api.call("PUT", "/v1/phonebooks/pb-1", book("Team", contacts))[0] == 201
    # WHEN a campaign asks for its mobile numbers
    got = phonebooks.audience(env.deps, tenant[0], "pb-1", "mobile")
    # THEN it gets every contact's mobile in phonebook order, with the name when there is one, duplicates kept
    assert got.entries == [
        (ALICE_MOBILE, {"name": "Alice"}),
        (CAROL_MOBILE, {}),
        (BOB_WORK, {}),
        (ALICE_MOBILE, {"name": "Alice again"}),
    ]
    # AND it learns how many contacts there are and how many were left out for having no mobile
    assert (got.contacts, got.without_number_type) == (6, 2)
    business = phonebooks.audience(env.deps, tenant[0], "pb-1", "business")
    assert business.entries == [(ALICE_WORK, {"name": "Alice"}), (BOB_WORK, {"name": "Bob"})]
    assert business.without_number_type == 4
    assert phonebooks.audience(env.deps, tenant[0], "pb-1", "home2").without_number_type == 6
    # AND count_for answers the same counts from the item alone
    assert phonebooks.count_for(env.deps, tenant[0], "pb-1", "mobile") == 4
    assert phonebooks.count_for(env.deps, tenant[0], "pb-1", "business") == 2
    assert phonebooks.count_for(env.deps, tenant[0], "pb-1", "other") == 0
    assert phonebooks.NUMBER_TYPES == ("business", "business2", "mobile", "mobile2", "home", "home2", "other")
    # AND a phonebook that does not exist (or could not) is missing, not an error of another kind
    for pid in ("nope", "x" * 500, "ключ"):
        assert phonebooks.count_for(env.deps, tenant[0], pid, "mobile") is None
        with pytest.raises(phonebooks.PhonebookMissingError):
            phonebooks.audience(env.deps, tenant[0], pid, "mobile")
    with pytest.raises(ValueError, match="number type"):
        phonebooks.audience(env.deps, tenant[0], "pb-1", "fax")


def test_a_reader_whose_version_is_replaced_meanwhile_reads_the_new_one(
    env: Env, api: Api, tenant: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a phonebook, and a PUT replacing it just after a reader has read its item (so its object is deleted)
    assert api.call("PUT", "/v1/phonebooks/pb-1", book())[0] == 201
    new = [{"name": "Dora", "numbers": {"mobile": CAROL_MOBILE}}]
    ran = once_before(
        monkeypatch, env.deps.blobs, "get_bytes", lambda: api.call("PUT", "/v1/phonebooks/pb-1", book("New", new))
    )
    # WHEN a campaign reads its audience
    got = phonebooks.audience(env.deps, tenant[0], "pb-1", "mobile")
    # THEN it read the item again and got the new version whole
    assert ran == [True]
    assert got.entries == [(CAROL_MOBILE, {"name": "Dora"})] and got.contacts == 1
    # AND the same holds for GET through the API
    ran = once_before(
        monkeypatch, env.deps.blobs, "get_bytes", lambda: api.call("PUT", "/v1/phonebooks/pb-1", book("Newer", []))
    )
    status, body = api.call("GET", "/v1/phonebooks/pb-1")
    assert ran == [True] and status == 200 and body["name"] == "Newer" and body["contacts"] == []


def test_a_reader_whose_phonebook_is_deleted_meanwhile_finds_it_missing(
    env: Env, api: Api, tenant: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a phonebook deleted just after a reader has read its item
    assert api.call("PUT", "/v1/phonebooks/pb-1", book())[0] == 201
    ran = once_before(monkeypatch, env.deps.blobs, "get_bytes", lambda: api.call("DELETE", "/v1/phonebooks/pb-1"))
    # WHEN a campaign reads its audience THEN the phonebook is missing (not a crash)
    with pytest.raises(phonebooks.PhonebookMissingError):
        phonebooks.audience(env.deps, tenant[0], "pb-1", "mobile")
    assert ran == [True]


def test_racing_puts_leave_exactly_the_winners_object(
    env: Env, api: Api, tenant: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a PUT that has written its object, and another PUT that completes before the first updates the item
    second = book("Second", [{"numbers": {"mobile": CAROL_MOBILE}}])
    answers: list[tuple[int, Any]] = []
    ran = once_before(
        monkeypatch,
        env.deps.phonebooks,
        "put",
        lambda: answers.append(api.call("PUT", "/v1/phonebooks/pb-1", second)),
    )
    # WHEN the first goes on
    status, first = api.call("PUT", "/v1/phonebooks/pb-1", book("First"))
    # THEN the one that reached the table first created it and the other replaced it
    assert ran == [True] and answers[0][0] == 201 and status == 200
    # AND the phonebook is the last written, with its object the only one left (the other's object deleted)
    assert api.call("GET", "/v1/phonebooks/pb-1") == (200, first)
    item = env.deps.phonebooks.get(tenant[0], "pb-1")
    assert item is not None and objects(env) == [item.object_key]


def test_an_item_write_that_fails_leaves_no_object(
    env: Env, api: Api, tenant: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a table that refuses the write
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(env.deps.phonebooks, "put", refuse)
    # WHEN a phonebook is pushed THEN the error propagates and the object written first is removed again
    with pytest.raises(RuntimeError):
        phonebooks.put_phonebook(
            env.deps, tenant[0], "pb-1", commands.put_phonebook(PhonebookIn.model_validate(book()))
        )
    assert objects(env) == []
