"""The opt-out repository: a tenant's opt-out list. Layout: chalicelib/services/optout_ports.py.

    TENANT#{tid}   OPTOUT#{number}   kind=optout: tenant_id, number, opted_out (bool), source, channel_id, at

A number's entry moves only when `opted_out` changes, by a conditional write, so a repeat (STOP twice, the same PUT
again, a replayed webhook) writes nothing and the table's stream carries exactly one change for the events worker:

    (none) ──opt out──> opted_out true ──opt in──> opted_out false ──opt out──> opted_out true ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo.table import (
    ConditionFailed,
    Table,
    decode_cursor,
    encode_cursor,
    from_item,
    tenant_pk,
    to_item,
)
from chalicelib.domain.errors import ConcurrencyError, OptOutUnchangedError
from chalicelib.domain.optouts import OptOut, OptOutPage

PREFIX = "OPTOUT#"
BATCH_GET = 100  # DynamoDB's BatchGetItem takes at most 100 keys
# Closes: two opt-outs of one number at once (a STOP and a provider refusal, a replayed webhook) both writing it
# (two events); and an opt-out rewriting one that stands (its source and time are the first opt-out's).
NOT_OPTED_OUT = "(attribute_not_exists(pk) OR opted_out = :false)"
# Closes: an opt-in racing another opt-in (two events), or one for a number never (or no longer) on the list.
OPTED_OUT = "opted_out = :true"
# Closes: a provider's retry of an old STOP (or START, or preference) arriving after a newer change of the other
# kind, which would undo it: a change applies only when what caused it is not older than the entry's last change.
NOT_OLDER = "(attribute_not_exists(changed_at) OR changed_at <= :at)"


def optout_sk(number: str) -> str:
    """Sort key of a number's entry in its tenant's partition."""
    return f"{PREFIX}{number}"


def optout_from(item: Mapping[str, Any]) -> OptOut:
    """An entry from its stored item."""
    return OptOut(
        tenant_id=str(item["tenant_id"]),
        number=str(item["number"]),
        opted_out=bool(item.get("opted_out")),
        source=str(item.get("source", "")),
        at=str(item.get("at", "")),
        channel_id=item.get("channel_id"),
        changed_at=float(item["changed_at"]) if isinstance(item.get("changed_at"), int | float) else None,
    )


def optout_item(entry: OptOut, opted_out: bool) -> dict[str, Any]:
    """The stored item of an entry (channel_id left out when there is none: an API change)."""
    return {
        "pk": tenant_pk(entry.tenant_id),
        "sk": optout_sk(entry.number),
        "kind": "optout",
        "tenant_id": entry.tenant_id,
        "number": entry.number,
        "opted_out": opted_out,
        "source": entry.source,
        "channel_id": entry.channel_id,
        "at": entry.at,
        "changed_at": entry.changed_at,
    }


def _guarded(condition: str, values: dict[str, Any], entry: OptOut) -> tuple[str, dict[str, Any]]:
    """A change's condition, with NOT_OLDER when the entry says when its cause happened."""
    if entry.changed_at is None:
        return condition, values
    return f"{condition} AND {NOT_OLDER}", {**values, ":at": entry.changed_at}


class OptOutRepository:
    """A tenant's opt-out list in the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, tenant_id: str, number: str) -> OptOut | None:
        """A number's entry, read consistently."""
        item = self.table.get(tenant_pk(tenant_id), optout_sk(number))
        return optout_from(item) if item else None

    def opted_out(self, tenant_id: str, numbers: Sequence[str]) -> set[str]:
        """Which numbers are opted out now: one BatchGetItem per 100 (consistent reads), retrying unprocessed keys."""
        wanted = list(dict.fromkeys(numbers))
        found: set[str] = set()
        for start in range(0, len(wanted), BATCH_GET):
            keys = [
                to_item({"pk": tenant_pk(tenant_id), "sk": optout_sk(n)}) for n in wanted[start : start + BATCH_GET]
            ]
            request: dict[str, Any] = {
                self.table.name: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "#n, opted_out",
                    "ExpressionAttributeNames": {"#n": "number"},
                }
            }
            for attempt in range(12):
                out = self.table.db.batch_get_item(RequestItems=request)
                for raw in out.get("Responses", {}).get(self.table.name, []):
                    item = from_item(raw)
                    if item.get("opted_out") is True:
                        found.add(str(item["number"]))
                request = out.get("UnprocessedKeys") or {}
                if not request:
                    break
                self.table.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise ConcurrencyError("the table kept refusing a batch read of the opt-out list")
        return found

    def page(self, tenant_id: str, limit: int, cursor: str | None) -> OptOutPage:
        """A page of the numbers opted out now, by number (entries opted in again are passed over)."""
        pk = tenant_pk(tenant_id)
        after = decode_cursor(cursor, PREFIX)
        found: list[dict[str, Any]] = []
        while True:
            items, last = self.table.query(pk, PREFIX, after=after, limit=max(limit, 50), consistent=False)
            for pos, item in enumerate(items):
                if item.get("opted_out") is True:
                    found.append(item)
                    if len(found) == limit:
                        more = last is not None or any(i.get("opted_out") is True for i in items[pos + 1 :])
                        return OptOutPage([optout_from(i) for i in found], encode_cursor(item) if more else None)
            if not last:
                return OptOutPage([optout_from(i) for i in found], None)
            after = last["sk"]

    def opt_out(self, entry: OptOut) -> None:
        """Put the number on the list (NOT_OPTED_OUT); OptOutUnchangedError when it is on it already."""
        try:
            self.table.put(optout_item(entry, True), *_guarded(NOT_OPTED_OUT, {":false": False}, entry))
        except ConditionFailed as lost:
            raise OptOutUnchangedError("the number is on the opt-out list already") from lost

    def opt_in(self, entry: OptOut) -> None:
        """Take the number off the list, keeping its entry (OPTED_OUT); OptOutUnchangedError when it is not on it."""
        try:
            self.table.put(optout_item(entry, False), *_guarded(OPTED_OUT, {":true": True}, entry))
        except ConditionFailed as lost:
            raise OptOutUnchangedError("the number is not on the opt-out list") from lost
