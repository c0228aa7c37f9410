"""The single table's low-level access: item (de)serialisation, keys, paging cursors, and a transaction builder.

Repositories (one per aggregate) are built over one `Table`. A failed condition is never a bare `False`: it raises
`ConditionFailed`, naming which part of the write lost and, where the write asked for it
(`ReturnValuesOnConditionCheckFailure=ALL_OLD`), the item as it was, so no caller reads the item a second time.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.domain.errors import ConcurrencyError, InvalidRequestError

_SER = TypeSerializer()
_DESER = TypeDeserializer()

TENANT_SK = "#TENANT"
APIKEY_SK = "#APIKEY"
CHANNEL_PTR_SK = "#CHANNEL"
DUE = "DUE"
ACTIVE = "ACTIVE"
MAX_TX_ATTEMPTS = 20
# A transaction cancelled only by TransactionConflict (another transaction held one of its items) is tried this
# many more times before the caller is told it could not be done.
CONFLICT_RETRIES = 6

# Named parts of the send-lock conditions on the tenant item (`:zero` is bound to 0 wherever they are used).
# size() is always guarded: on an item without the attribute it must read as false, never as an error.
QUEUE_EMPTY = "(attribute_not_exists(pending_queue) OR size(pending_queue) = :zero)"
QUEUE_NOT_EMPTY = "(attribute_exists(pending_queue) AND size(pending_queue) > :zero)"
LOCK_FREE = f"attribute_not_exists(sending) AND {QUEUE_EMPTY}"
LOCK_TAKEN = f"(attribute_exists(sending) OR {QUEUE_NOT_EMPTY})"
# A campaign started from the queue sends as it was queued to: `start_as` is "retrying" for a retry, else absent.
START_SENDING = "SET #s = if_not_exists(start_as, :executing), started_at = :now, gsi1pk = :active, gsi1sk = :gsk"


def status_set(status: str | Collection[str] | None) -> set[str] | None:
    """A listing's `status` filter as the set of statuses it lets through (None: all)."""
    return None if status is None else ({status} if isinstance(status, str) else set(status))


def tenant_pk(tenant_id: str) -> str:
    """Partition of a tenant's own items."""
    return f"TENANT#{tenant_id}"


def campaign_pk(campaign_id: str) -> str:
    """Partition of a campaign's recipients and counters."""
    return f"CAMPAIGN#{campaign_id}"


def campaign_sk(campaign_id: str) -> str:
    """Sort key of a campaign in its tenant's partition."""
    return f"CAMPAIGN#{campaign_id}"


def recipient_sk(index: int) -> str:
    """Sort key of the recipient at `index` (zero-padded so ranges sort)."""
    return f"R#{index:08d}"


def phonebook_sk(phonebook_id: str) -> str:
    """Sort key of a phonebook in its tenant's partition."""
    return f"PHONEBOOK#{phonebook_id}"


def _decimals(value: Any) -> Any:
    """Floats become Decimals (DynamoDB numbers), recursively."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def _ser(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(_SER.serialize(_decimals(value)))
    return out


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser(v) for k, v in values.items() if v is not None}


def _plain(value: Any) -> Any:
    """Decimals back to int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def from_item(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_DESER.deserialize(v)) for k, v in raw.items()}


def to_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser(v) for k, v in values.items()}


def encode_cursor(last_key: Mapping[str, Any] | None) -> str | None:
    """An opaque cursor from DynamoDB's LastEvaluatedKey (already plain)."""
    if not last_key:
        return None
    raw = json.dumps({"sk": last_key["sk"]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, prefix: str) -> str | None:
    """The sort key a cursor points after; a cursor that is not ours is a 400."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        sk = data["sk"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError) as exc:
        raise InvalidRequestError("cursor is not valid", details=[{"field": "cursor"}]) from exc
    if not isinstance(sk, str) or not sk.startswith(prefix):
        raise InvalidRequestError("cursor is not valid", details=[{"field": "cursor"}])
    return sk


@dataclass(frozen=True)
class Page:
    """One page of a listing."""

    items: list[dict[str, Any]]
    next_cursor: str | None


class Table:
    """The table: a boto3 DynamoDB client and the table's name, with the few access shapes repositories use."""

    def __init__(self, client: Any, table_name: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.db = client
        self.name = table_name
        self.sleep = sleep

    def tx(self) -> Tx:
        """A new transaction over this table."""
        return Tx(self)

    def get(self, pk: str, sk: str, consistent: bool = True) -> dict[str, Any] | None:
        out = self.db.get_item(TableName=self.name, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=consistent)
        raw = out.get("Item")
        return from_item(raw) if raw else None

    def query(
        self,
        pk: str,
        prefix: str,
        *,
        forward: bool = True,
        after: str | None = None,
        limit: int | None = None,
        consistent: bool = True,
        between: tuple[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "ConsistentRead": consistent,
            "ScanIndexForward": forward,
        }
        if between is not None:
            kwargs["KeyConditionExpression"] = "pk = :pk AND sk BETWEEN :lo AND :hi"
            kwargs["ExpressionAttributeValues"] = to_values({":pk": pk, ":lo": between[0], ":hi": between[1]})
        elif not prefix:
            kwargs["KeyConditionExpression"] = "pk = :pk"
            kwargs["ExpressionAttributeValues"] = to_values({":pk": pk})
        else:
            kwargs["KeyConditionExpression"] = "pk = :pk AND begins_with(sk, :prefix)"
            kwargs["ExpressionAttributeValues"] = to_values({":pk": pk, ":prefix": prefix})
        if after is not None:
            kwargs["ExclusiveStartKey"] = to_item({"pk": pk, "sk": after})
        if limit is not None:
            kwargs["Limit"] = limit
        out = self.db.query(**kwargs)
        items = [from_item(i) for i in out.get("Items", [])]
        last = out.get("LastEvaluatedKey")
        return items, (from_item(last) if last else None)

    def query_all(self, pk: str, prefix: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            items, last = self.query(pk, prefix, after=after, **kwargs)
            yield from items
            if not last:
                return
            after = last["sk"]

    def page(
        self,
        pk: str,
        prefix: str,
        *,
        limit: int,
        cursor: str | None,
        forward: bool,
        status: str | Collection[str] | None = None,
    ) -> Page:
        """Up to `limit` items after the cursor, optionally only those with `status` (one, or any of several)."""
        after = decode_cursor(cursor, prefix)
        wanted = status_set(status)
        found: list[dict[str, Any]] = []
        while True:
            items, last = self.query(pk, prefix, forward=forward, after=after, limit=max(limit, 50))
            for pos, item in enumerate(items):
                if wanted is None or item.get("status") in wanted:
                    found.append(item)
                    if len(found) == limit:
                        # No cursor when this page certainly ends the list (else the PBX asks for an empty page).
                        rest = items[pos + 1 :]
                        more = last is not None or any(wanted is None or i.get("status") in wanted for i in rest)
                        return Page(found, encode_cursor(item) if more else None)
            if not last:
                return Page(found, None)
            after = last["sk"]

    def update(
        self,
        key: Mapping[str, str],
        expression: str,
        condition: str | None,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
        *,
        want_old: bool = False,
        want_new: bool = False,
    ) -> dict[str, Any] | None:
        """Update one item; a failed condition raises ConditionFailed (part "item", with the old item if asked).

        With `want_new`, the item as the update left it (so nobody reads it again).
        """
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": to_item(key),
            "UpdateExpression": expression,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = to_values(values)
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if condition:
            kwargs["ConditionExpression"] = condition
            if want_old:
                kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if want_new:
            kwargs["ReturnValues"] = "ALL_NEW"
        try:
            out = self.db.update_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") == "ConditionalCheckFailedException":
                raw: Mapping[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
                raise ConditionFailed(["item"], {"item": from_item(raw)} if raw else None) from exc
            raise
        new = out.get("Attributes")
        return from_item(new) if want_new and new else None

    def put(
        self,
        item: Mapping[str, Any],
        condition: str,
        values: Mapping[str, Any] | None = None,
        *,
        want_old: bool = False,
    ) -> None:
        """Put one item under `condition` (one PutItem, not a transaction); a failed condition raises ConditionFailed
        (part "item", with the item as it was if asked)."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": to_item(item), "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = to_values(values)
        if want_old:
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            self.db.put_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") == "ConditionalCheckFailedException":
                raw: Mapping[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
                raise ConditionFailed(["item"], {"item": from_item(raw)} if raw else None) from exc
            raise

    def delete(self, key: Mapping[str, str], condition: str, values: Mapping[str, Any] | None = None) -> None:
        """Delete one item under `condition` (one DeleteItem); a failed condition raises ConditionFailed ("item")."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": to_item(key), "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = to_values(values)
        try:
            self.db.delete_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") == "ConditionalCheckFailedException":
                raise ConditionFailed(["item"]) from exc
            raise

    def batch_put(self, puts: Iterable[dict[str, Any]]) -> None:
        """Put items unconditionally, 25 per request, retrying what DynamoDB left unprocessed."""
        batch: list[dict[str, Any]] = []
        for item in puts:
            batch.append({"PutRequest": {"Item": to_item(item)}})
            if len(batch) == 25:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)

    def batch_delete(self, keys: Iterable[Mapping[str, str]]) -> None:
        """Delete items unconditionally, 25 per request, retrying what DynamoDB left unprocessed."""
        batch: list[dict[str, Any]] = []
        for key in keys:
            batch.append({"DeleteRequest": {"Key": to_item(key)}})
            if len(batch) == 25:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)

    def _flush(self, requests: list[dict[str, Any]]) -> None:
        pending = {self.name: requests}
        for _ in range(12):
            out = self.db.batch_write_item(RequestItems=pending)
            pending = out.get("UnprocessedItems") or {}
            if not pending:
                return
        raise ConcurrencyError("the table kept refusing a batch write")


class ConditionFailed(Exception):  # noqa: N818 - a named outcome, raised like DynamoDB's own
    """A conditional write lost: `parts` names the failed parts, `old` the items as they were (when asked for)."""

    def __init__(self, parts: list[str], old: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(", ".join(parts) or "condition failed")
        self.parts = parts
        self.old = old or {}

    def item(self, part: str) -> dict[str, Any] | None:
        """The item of `part` as it was when its condition failed, if the write asked for it."""
        return self.old.get(part)


@dataclass
class Tx:
    """A transaction built from named parts; `commit` raises `ConditionFailed` naming the parts that lost.

    A cancellation caused only by `TransactionConflict` (another transaction held one of the items at that moment)
    lost no race: it is tried again up to CONFLICT_RETRIES times with jittered backoff, then `ConcurrencyError`.
    """

    table: Table
    parts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def _op(
        self,
        name: str,
        kind: str,
        body: dict[str, Any],
        condition: str | None,
        values: Mapping[str, Any] | None,
        names: Mapping[str, str] | None,
        want_old: bool,
    ) -> Tx:
        body = {"TableName": self.table.name, **body}
        if condition:
            body["ConditionExpression"] = condition
        if values:
            body["ExpressionAttributeValues"] = to_values(values)
        if names:
            body["ExpressionAttributeNames"] = dict(names)
        if want_old and condition:
            body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self.parts.append((name, {kind: body}))
        return self

    def put(
        self,
        name: str,
        item: Mapping[str, Any],
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        want_old: bool = False,
    ) -> Tx:
        """Put `item` (under `condition`)."""
        return self._op(name, "Put", {"Item": to_item(item)}, condition, values, names, want_old)

    def update(
        self,
        name: str,
        key: Mapping[str, str],
        expression: str,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        want_old: bool = False,
    ) -> Tx:
        """Update the item at `key` (under `condition`)."""
        body = {"Key": to_item(key), "UpdateExpression": expression}
        return self._op(name, "Update", body, condition, values, names, want_old)

    def delete(
        self,
        name: str,
        key: Mapping[str, str],
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        want_old: bool = False,
    ) -> Tx:
        """Delete the item at `key` (under `condition`)."""
        return self._op(name, "Delete", {"Key": to_item(key)}, condition, values, names, want_old)

    def check(
        self,
        name: str,
        key: Mapping[str, str],
        condition: str,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        want_old: bool = False,
    ) -> Tx:
        """Require `condition` of the item at `key` without writing it."""
        return self._op(name, "ConditionCheck", {"Key": to_item(key)}, condition, values, names, want_old)

    def commit(self) -> None:
        """Run it (at most 100 parts): raises ConditionFailed, or ConcurrencyError after repeated conflicts."""
        if not self.parts:
            return
        conflicts = 0
        while True:
            try:
                self.table.db.transact_write_items(TransactItems=[body for _, body in self.parts])
                return
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                codes = [str(r.get("Code", "None")) for r in reasons]
                if "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes:
                    conflicts += 1
                    if conflicts > CONFLICT_RETRIES:
                        raise ConcurrencyError("a transaction kept conflicting with other transactions") from exc
                    self.table.sleep(random.uniform(0.5, 1.0) * min(0.05 * 2**conflicts, 1.0))  # noqa: S311
                    continue
                failed: list[str] = []
                old: dict[str, dict[str, Any]] = {}
                for (name, _), reason in zip(self.parts, reasons, strict=False):
                    if reason.get("Code") == "ConditionalCheckFailed":
                        failed.append(name)
                        if reason.get("Item"):
                            old[name] = from_item(reason["Item"])
                # Without reasons (some emulators) every part is suspect.
                raise ConditionFailed(failed or [name for name, _ in self.parts], old) from exc
