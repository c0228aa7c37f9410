"""When the minute tick dispatches a sending campaign again (pure rules, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.campaign import Campaign
from chalicelib.domain.model import utc_iso
from chalicelib.services.lifecycle import (
    DISPATCH_SILENCE_SECONDS,
    STALL_SECONDS,
    UNDISPATCHED_GRACE_SECONDS,
    _needs_dispatch,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def sending(marks: dict[str, Any]) -> Campaign:
    """A sending campaign with these dispatch marks."""
    return Campaign(
        campaign_id="cmp_1",
        tenant_id="ten_1",
        status="executing",
        name="Promo",
        channel_id="ch_1",
        sender="+15005550006",
        content={"type": "text", "text": "hi"},
        send_time={"type": "now"},
        send_mode="direct",
        segments=1,
        encoding="GSM-7",
        created_at=ago(7200),
        **marks,
    )


def ago(seconds: float) -> str:
    return utc_iso(NOW - timedelta(seconds=seconds)) or ""


def test_a_campaign_never_dispatched_is_dispatched_after_the_grace() -> None:
    # GIVEN a sending campaign whose starter never got to dispatch it
    assert not _needs_dispatch(sending({"started_at": ago(UNDISPATCHED_GRACE_SECONDS - 5)}), NOW)
    # THEN the tick dispatches it once the grace is over
    assert _needs_dispatch(sending({"started_at": ago(UNDISPATCHED_GRACE_SECONDS + 5)}), NOW)


def test_a_dispatch_in_progress_is_left_alone_however_long_it_takes() -> None:
    # GIVEN a dispatcher writing a large audience for 20 minutes, marking the campaign as it goes
    working = {"started_at": ago(20 * 60), "dispatching_at": ago(DISPATCH_SILENCE_SECONDS - 30)}
    # THEN the tick does not start a second one (it would queue every chunk twice after SQS's dedup window)
    assert not _needs_dispatch(sending(working), NOW)
    # WHEN the dispatcher falls silent (its Lambda died), THEN the tick dispatches again
    died = {"started_at": ago(20 * 60), "dispatching_at": ago(DISPATCH_SILENCE_SECONDS + 30)}
    assert _needs_dispatch(sending(died), NOW)


def test_a_dispatched_campaign_is_revived_only_after_a_stall() -> None:
    # GIVEN a dispatched campaign
    base = {"started_at": ago(3600), "dispatched_gen": 0, "dispatching_at": ago(3600)}
    # THEN it is re-dispatched only when it has made no progress for the stall time
    assert not _needs_dispatch(sending({**base, "progress_at": ago(STALL_SECONDS - 60)}), NOW)
    assert _needs_dispatch(sending({**base, "progress_at": ago(STALL_SECONDS + 60)}), NOW)
