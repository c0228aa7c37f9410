"""The opt-out repository's contract, on the in-memory fake and on the real one over moto: an entry changes only
when `opted_out` changes (a repeat writes nothing: no second stream record, no second event), the list's reads."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
import requests

from chalicelib.adapters.dynamo.optouts import OptOutRepository
from chalicelib.adapters.dynamo.table import Table, tenant_pk
from chalicelib.domain.errors import OptOutUnchangedError
from chalicelib.domain.optouts import OptOut
from tests.fakes.items import FakeTable
from tests.fakes.optouts import FakeOptOuts

TENANT = "ten_1"
OTHER = "ten_2"
N1, N2, N3 = "+14155550201", "+14155550202", "+14155550203"
T1, T2 = "2026-12-01T08:00:00Z", "2026-12-01T09:00:00Z"


def entry(number: str, source: str = "keyword", at: str = T1, tenant_id: str = TENANT, **kw: Any) -> OptOut:
    return OptOut(tenant_id, number, True, source, at, kw.get("channel_id", "ch_1"))


class OptOutRepoContract:
    """What every OptOuts implementation does."""

    @pytest.fixture
    def repo(self) -> Any:
        raise NotImplementedError

    def raw(self, repo: Any, number: str) -> dict[str, Any] | None:
        """The stored item itself (the layout the events worker reads from the stream)."""
        raise NotImplementedError

    def batch_reads(self, repo: Any) -> list[int]:
        """How many keys each batch read asked for so far."""
        raise NotImplementedError

    def test_an_opt_out_is_stored_in_the_fixed_layout(self, repo: Any) -> None:
        # WHEN a number opts out by keyword
        repo.opt_out(entry(N1))
        # THEN its item has the layout of optout_ports.py, and the entry reads back
        item = self.raw(repo, N1)
        assert item is not None
        assert {
            k: item[k] for k in ("pk", "sk", "kind", "tenant_id", "number", "opted_out", "source", "channel_id", "at")
        } == {
            "pk": tenant_pk(TENANT),
            "sk": f"OPTOUT#{N1}",
            "kind": "optout",
            "tenant_id": TENANT,
            "number": N1,
            "opted_out": True,
            "source": "keyword",
            "channel_id": "ch_1",
            "at": T1,
        }
        assert repo.get(TENANT, N1) == entry(N1)
        assert repo.get(OTHER, N1) is None

    def test_a_repeat_writes_nothing(self, repo: Any) -> None:
        # GIVEN a number opted out
        repo.opt_out(entry(N1))
        # WHEN it opts out again (a second STOP, a provider refusal, the API)
        with pytest.raises(OptOutUnchangedError):
            repo.opt_out(entry(N1, "api", T2, channel_id=None))
        # THEN the first entry stands untouched
        assert repo.get(TENANT, N1) == entry(N1)
        # AND an opt-in of a number never on the list writes nothing either
        with pytest.raises(OptOutUnchangedError):
            repo.opt_in(OptOut(TENANT, N2, False, "keyword", T1, "ch_1"))
        assert repo.get(TENANT, N2) is None and self.raw(repo, N2) is None

    def test_an_opt_in_keeps_the_entry_off_the_list_and_a_new_opt_out_puts_it_back(self, repo: Any) -> None:
        repo.opt_out(entry(N1))
        # WHEN it opts in by the API
        repo.opt_in(OptOut(TENANT, N1, False, "api", T2, None))
        # THEN the entry is kept, not opted out, with the opt-in's source and time (and no channel)
        assert repo.get(TENANT, N1) == OptOut(TENANT, N1, False, "api", T2, None)
        assert "channel_id" not in (self.raw(repo, N1) or {})
        # AND a second opt-in changes nothing, a new opt-out changes it back
        with pytest.raises(OptOutUnchangedError):
            repo.opt_in(OptOut(TENANT, N1, False, "keyword", T1, "ch_1"))
        repo.opt_out(entry(N1, "provider", T1))
        assert repo.get(TENANT, N1) == entry(N1, "provider", T1)

    def test_opted_out_reads_the_list_in_batches_of_a_hundred(self, repo: Any) -> None:
        # GIVEN 150 numbers of which three are opted out (one opted in again) and one of another tenant
        numbers = [f"+1415555{i:04d}" for i in range(150)]
        for n in (numbers[0], numbers[120], numbers[149], N3):
            repo.opt_out(entry(n))
        repo.opt_in(OptOut(TENANT, numbers[149], False, "keyword", T2, "ch_1"))
        repo.opt_out(entry(numbers[5], tenant_id=OTHER))
        # WHEN the sender asks about all of them (with a duplicate)
        found = repo.opted_out(TENANT, [*numbers, numbers[0]])
        # THEN exactly this tenant's opted-out ones among them, read in two requests (150 distinct numbers)
        assert found == {numbers[0], numbers[120]}
        assert self.batch_reads(repo) == [100, 50]
        assert repo.opted_out(TENANT, []) == set()

    def test_the_list_pages_by_number_without_those_opted_in_again(self, repo: Any) -> None:
        for n in (N3, N1, N2):
            repo.opt_out(entry(n))
        repo.opt_in(OptOut(TENANT, N2, False, "keyword", T2, "ch_1"))
        repo.opt_out(entry(N2, tenant_id=OTHER))
        first = repo.page(TENANT, 1, None)
        assert [e.number for e in first.items] == [N1] and first.next_cursor
        rest = repo.page(TENANT, 5, first.next_cursor)
        assert [e.number for e in rest.items] == [N3] and rest.next_cursor is None
        whole = repo.page(TENANT, 2, None)
        assert [e.number for e in whole.items] == [N1, N3] and whole.next_cursor is None
        assert repo.page("ten_none", 5, None).items == []


class TestFake(OptOutRepoContract):
    @pytest.fixture
    def repo(self) -> Any:
        return FakeOptOuts(FakeTable())

    def raw(self, repo: Any, number: str) -> dict[str, Any] | None:
        return repo.table.get(tenant_pk(TENANT), f"OPTOUT#{number}")  # type: ignore[no-any-return]

    def batch_reads(self, repo: Any) -> list[int]:
        return list(repo.batch_gets)


class TestMoto(OptOutRepoContract):
    @pytest.fixture
    def repo(self, moto_url: str) -> Any:
        from devstack.resources import create_resources

        requests.post(f"{moto_url}/moto-api/reset", timeout=10)
        name = create_resources(None).table_name
        client = boto3.client("dynamodb")
        self.reads: list[int] = []
        # Seen as DynamoDB would: the keys of each BatchGetItem request, counted as it is sent.
        client.meta.events.register(
            "provide-client-params.dynamodb.BatchGetItem",
            lambda params, **_: self.reads.append(sum(len(t["Keys"]) for t in params["RequestItems"].values())),
        )
        return OptOutRepository(Table(client, name, sleep=lambda _: None))

    def raw(self, repo: Any, number: str) -> dict[str, Any] | None:
        return repo.table.get(tenant_pk(TENANT), f"OPTOUT#{number}")  # type: ignore[no-any-return]

    def batch_reads(self, repo: Any) -> list[int]:
        return list(self.reads)
