"""Benchmark `firstmsg`: seconds from "send now" to the first chunk on the queue, at 10, 1,000 and 100,000 recipients.

The service layer on the in-memory fakes (tests/unit/campaign_deps.py), so the figure is the service's own work, not
moto's: the create request (its audience written inline: INLINE_DISPATCH_MAX raised to the audience) until the
first chunk is published, and until the whole audience is written (the last chunk published). Up to 10,000 the
numbers are typed into the request (the contract's cap; the request checks each, so that part grows with them);
beyond, they come as an imported contacts CSV, read as its recipients are written. The first chunk goes out once its
own recipients are written, so the first figure should hardly grow with the audience.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.figures import print_figures  # noqa: E402

SIZES = tuple(int(n) for n in os.environ.get("BENCH_FIRSTMSG_SIZES", "10,1000,100000").split(","))


def run(count: int) -> dict[str, Any]:
    """One campaign of `count` typed numbers, created and dispatched inline; when its chunks were queued."""
    from chalicelib.domain.commands import CampaignSettings, CreateCampaign, RecipientsSpec, SendNow, TextContent
    from chalicelib.domain.model import Clock, IdFactory
    from chalicelib.services import audience, campaigns
    from tests.fakes.aws import FakeBlobs
    from tests.unit.campaign_deps import CHANNEL, SENDER, TENANT, world
    from tests.unit.template_world import csv_upload

    w = world(max_recipients_per_campaign=count, inline_dispatch_max=count)
    w.deps.blobs = FakeBlobs()  # the bucket holding an imported CSV's contacts
    clock = Clock()
    w.deps.clock, w.deps.ids = clock, IdFactory(clock=clock.now)
    queued: list[float] = []
    publish = w.queue.publish

    def timed(chunks: Any, group: str, dedup_prefix: str, on_batch: Any = None) -> None:
        publish(chunks, group, dedup_prefix, on_batch)
        queued.append(time.perf_counter())

    w.queue.publish = timed  # type: ignore[method-assign]
    numbers = tuple(f"+1415{5550000 + i:07d}" for i in range(count))
    if count <= audience.MAX_TYPED_NUMBERS:
        recipients = RecipientsSpec(numbers=numbers)
    else:
        # Larger lists come as a contacts CSV (typed numbers are capped at 10,000): one already imported, as the
        # admin's upload would be before "send now" (the import checked its numbers then).
        upload_id = csv_upload(
            w, "upl_firstmsg", ["first_name"], [(n, [f"Contact {i}"]) for i, n in enumerate(numbers)]
        )
        recipients = RecipientsSpec(upload_id=upload_id)
    settings = CampaignSettings(
        name="firstmsg", channel_id=CHANNEL, sender=SENDER, recipients=recipients, content=TextContent(text="First")
    )
    t0 = time.perf_counter()
    campaigns.create_campaign(w.deps, TENANT, CreateCampaign(settings, SendNow()))
    t_done = time.perf_counter()
    return {
        "recipients": count,
        "audience": "typed numbers" if count <= audience.MAX_TYPED_NUMBERS else "contacts CSV upload",
        "to_first_chunk_queued_s": round(queued[0] - t0, 4) if queued else None,
        "to_audience_written_s": round((queued[-1] if queued else t_done) - t0, 4),
        "create_request_s": round(t_done - t0, 4),
        "chunks_queued": len(w.queue.chunks),
    }


def bench_firstmsg() -> list[dict[str, Any]]:
    out = []
    for count in SIZES:
        figures = run(count)
        print_figures(f"first message: {count:,} recipients (service on fakes)", figures, width=26)
        out.append(figures)
    return out


if __name__ == "__main__":
    bench_firstmsg()
