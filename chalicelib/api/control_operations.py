"""The documented operations that hold a sending campaign: pause, resume and cancel (the contract's extension;
operations.py adds them to the route table)."""

from __future__ import annotations

from chalicelib.api import responses as out
from chalicelib.api.operation import Operation

# fmt: off
CONTROL_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST", "/v1/campaigns/{campaign_id}/pause", "pauseCampaign", "campaigns",
        "Pause an `executing` or `retrying` campaign.",
        {200: ("The campaign, `paused`.", out.Campaign)},
        {
            409: (
                "`campaign_not_sending`: the campaign is not `executing` or `retrying`, or a cancel of it was asked "
                "for (details give its `status`).",
                "campaign_not_sending",
            ),
            415: "UnsupportedMediaType",
            503: "TryAgain",
        },
        description=(
            "The campaign hands no new recipient to the provider from within a few seconds (a message already being "
            "handed over completes) and becomes `paused`; the tenant's sending slot goes to the next `pending` "
            "campaign at once. Recipients not handed over stay `queued`. A body is not needed and is ignored."
        ),
    ),
    Operation(
        "POST", "/v1/campaigns/{campaign_id}/resume", "resumeCampaign", "campaigns",
        "Resume a `paused` campaign.",
        {200: ("The campaign: `executing` (or `retrying`, for a paused retry) or `pending`.", out.Campaign)},
        {
            409: (
                "`campaign_not_paused`: the campaign is not `paused`, or a cancel of it was asked for (details give "
                "its `status`); `campaign_busy`: it changed while it resumed (read it again).",
                "campaign_not_paused", "campaign_busy",
            ),
            415: "UnsupportedMediaType",
            503: "TryAgain",
        },
        description=(
            "The campaign goes back in line: it sends again at once when the tenant has no other campaign sending, "
            "else it is `pending` behind it. Only recipients still `queued` are sent: nothing handed to the provider "
            "before the pause is sent again. `started_at` becomes the time it resumed sending. A body is not needed "
            "and is ignored."
        ),
    ),
    Operation(
        "POST", "/v1/campaigns/{campaign_id}/cancel", "cancelCampaign", "campaigns",
        "Cancel a `paused`, `pending`, `scheduled`, `executing` or `retrying` campaign.",
        {
            200: (
                "The campaign: `completed`, or still `executing`/`retrying` with `cancel_requested_at` set for the "
                "few seconds its last hand-overs take.",
                out.Campaign,
            )
        },
        {
            409: (
                "`campaign_not_cancellable`: the campaign is `draft`, `completed` or `stopped` (details give its "
                "`status`).",
                "campaign_not_cancellable",
            ),
            415: "UnsupportedMediaType",
            503: "TryAgain",
        },
        description=(
            "Every recipient not yet handed to the provider becomes `skipped` with `error.code` `cancelled`, and the "
            "campaign ends `completed` (its slot goes to the next `pending` campaign). Messages already handed over "
            "keep their outcome; a hand-over whose answer was lost is settled first. Repeating a cancel answers the "
            "campaign as it is. A body is not needed and is ignored."
        ),
    ),
)
# fmt: on
