"""The events worker's use case: the table's stream records in, the PBX's events out on the bus.

Every change is read from the stream, so an event exists whatever code path made the change, and a process that
died after its write loses none (the stream keeps the record until the worker has put its event). Translation is
domain/pbx_events.py; here the campaign's `result` is read from its counters, each tenant with an event_url gets
its events' signed `delivery`, and they are put on the bus. Any failure fails the batch: Lambda retries it (bisected),
then hands what still fails to the event source's on-failure queue. An event put twice (a retried batch after a
partial PutEvents failure) keeps its `event_id`, which is what the PBX de-duplicates on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.domain.model import Result
from chalicelib.domain.pbx_events import PbxEvent, bus_detail, translate
from chalicelib.services.deps import Deps
from chalicelib.services.event_ports import BusEntry
from chalicelib.services.logs import log


class EventSecretMissingError(RuntimeError):
    """A tenant has an event_url but no event secret (the PATCH keeps the secret first, so never expected)."""


def entries(deps: Deps, records: Iterable[Mapping[str, Any]]) -> list[BusEntry]:
    """The bus entries a batch of stream records makes (in the stream's order)."""
    secrets: dict[str, str | None] = {}
    out: list[BusEntry] = []
    for record in records:
        event = translate(record)
        if event is None:
            continue
        if event.needs_result:
            counters = deps.recipients.counters(str(event.detail["campaign_id"]))
            event = event.with_result(Result.from_buckets(counters).as_dict())
        if event.tenant_id not in secrets:
            secrets[event.tenant_id] = _delivery_secret(deps, event)
        out.append(BusEntry(event, bus_detail(event, secrets[event.tenant_id])))
    return out


def _delivery_secret(deps: Deps, event: PbxEvent) -> str | None:
    tenant = deps.tenants.get(event.tenant_id)
    if tenant is None or not tenant.event_url:
        return None
    secret = deps.events.secret(event.tenant_id)
    if secret is None:
        raise EventSecretMissingError(f"tenant {event.tenant_id} has an event_url but no event secret")
    return secret


def handle_records(deps: Deps, records: Iterable[Mapping[str, Any]]) -> int:
    """Put the events of a batch of stream records on the bus; returns how many (an exception fails the batch)."""
    batch = entries(deps, records)
    if batch:
        deps.events.put(batch)
        kinds: dict[str, int] = {}
        for entry in batch:
            kinds[entry.event.detail_type] = kinds.get(entry.event.detail_type, 0) + 1
        log.info("pbx events put", extra={"events": kinds})
    return len(batch)
