"""Meta's WhatsApp Cloud API webhook: one URL per channel for the verification handshake (GET) and for every signed
POST (a batch of statuses, messages, template status updates and users' marketing preferences in one JSON body,
retried whole by Meta until it is answered 200).

Each item is recorded on its own, idempotently (forward-only status moves, inbound kept once by message id, template
states set, a preference put on or taken off the opt-out list), so one that fails does not lose the others, and
Meta's retry of the whole POST records only what is missing. A template that becomes paused or disabled stops the
campaigns sending it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from chalicelib.adapters.providers.base import WebhookRequest
from chalicelib.domain.errors import ConcurrencyError, InvalidSignatureError
from chalicelib.domain.model import CampaignStatus, utc_iso
from chalicelib.domain.templates import STOPPING_STATUSES, TemplateUpdate, stop_code
from chalicelib.services import lifecycle, optouts
from chalicelib.services.deps import Deps
from chalicelib.services.logs import log
from chalicelib.services.providers import rules_of
from chalicelib.services.webhooks import channel_of, keep_inbound, record_event, verified

T = TypeVar("T")
# The route these serve; a channel whose provider hands out other webhook URLs (Twilio's) is not verified here.
PATH_PREFIX = "/webhooks/whatsapp/"


def whatsapp_handshake(deps: Deps, channel_id: str, query: Mapping[str, str]) -> str:
    """Meta's subscription check: the `hub.challenge` to echo when `hub.mode` is subscribe and `hub.verify_token` is
    the channel's; 403 otherwise (an unknown channel, a wrong or missing token, another mode)."""
    tenant_id, channel = channel_of(deps, channel_id)
    creds = deps.secrets.get(tenant_id, channel_id) if tenant_id and channel else None
    answer = rules_of(deps, channel).handshake(query, creds) if channel and creds else None
    if answer is None:
        raise InvalidSignatureError("the verification request does not carry this channel's verify token")
    log.info("webhook verified", extra={"channel_id": channel_id})
    return answer


def record_whatsapp(
    deps: Deps, channel_id: str, query: Mapping[str, str], body: bytes, signature: str | None
) -> dict[str, int]:
    """Record one signed Meta webhook: every status, inbound message, template status update and preference in it.

    A body that is not Meta's shape (once signed) records nothing and is answered like any other, so Meta does not
    send it again. When recording some item fails (storage unavailable), the others are recorded all the same and
    the request is answered 503, so Meta sends the whole POST again: what was recorded is not recorded twice.
    """
    _, channel = channel_of(deps, channel_id)
    if channel is None or rules_of(deps, channel).webhook_path(channel_id, "status") != PATH_PREFIX + channel_id:
        raise InvalidSignatureError("the request is not signed by this channel's provider")
    tenant_id, rules, request = verified(deps, channel_id, "status", query, body, signature)
    counts = {"statuses": 0, "messages": 0, "template_updates": 0, "preferences": 0}
    failed = 0

    def each(kind: str, items: Sequence[T], record: Callable[[T], None]) -> None:
        nonlocal failed
        for item in items:
            try:
                record(item)
            except Exception:  # noqa: BLE001 - one item's failure must not lose the others of the batch
                failed += 1
                log.exception("webhook item not recorded", extra={"channel_id": channel_id, "kind": kind})
            else:
                counts[kind] += 1

    now = utc_iso(deps.clock.utcnow()) or ""
    each(
        "statuses",
        _parsed(rules.parse_status, request, channel_id),
        lambda event: record_event(deps, tenant_id, channel_id, event.ref if event.ref is not None else query, event),
    )
    each(
        "messages",
        _parsed(rules.parse_inbound, request, channel_id),
        lambda message: keep_inbound(deps, tenant_id, channel_id, message),
    )
    each(
        "template_updates",
        _parsed(rules.parse_template_updates, request, channel_id),
        lambda update: _template_update(deps, tenant_id, channel_id, update, now),
    )
    each(
        "preferences",
        _parsed(rules.parse_preferences, request, channel_id),
        # A marketing stop puts the number on the tenant's opt-out list, a resume takes it off (lane B's rules).
        lambda update: optouts.preference(
            deps, tenant_id, channel_id, update.number, update.stop, update.at.timestamp() if update.at else None
        ),
    )
    if failed:
        raise ConcurrencyError(
            f"{failed} item(s) of the webhook could not be recorded; the provider will send it again"
        )
    return counts


def _parsed(parse: Callable[[WebhookRequest], list[T]], request: WebhookRequest, channel_id: str) -> list[T]:
    """What a parser finds in a signed body; nothing (logged) when the body is not the provider's shape."""
    try:
        return list(parse(request))
    except Exception:  # noqa: BLE001 - a signed body we cannot read is answered 200: sending it again would not help
        log.warning("webhook body not understood", extra={"channel_id": channel_id, "size": len(request.body)})
        return []


def _template_update(deps: Deps, tenant_id: str, channel_id: str, update: TemplateUpdate, now: str) -> None:
    """Record a template's new state; a template now paused or disabled stops the campaigns sending it."""
    stored = deps.templates.apply_update(tenant_id, channel_id, update, now)
    log.info(
        "template status",
        extra={
            "channel_id": channel_id,
            "template_id": update.template_id,
            "status": update.status,
            "known": bool(stored),
        },
    )
    stop_campaigns_of(deps, tenant_id, channel_id, update.template_id, update.status)


def stop_campaigns_of(deps: Deps, tenant_id: str, channel_id: str, template_id: str, status: str) -> list[str]:
    """Stop every sending campaign of the tenant that sends this template through this channel, now that it is
    paused or disabled (`stop_reason` `template_paused` or `template_disabled`); `retry` resumes them."""
    if status not in STOPPING_STATUSES:
        return []
    reason = {
        "code": stop_code(status),
        "message": f"the provider reports the template {template_id} {status}; retry once it is approved again",
    }
    stopped = []
    for campaign in deps.campaigns.of_tenant(tenant_id):
        content = campaign.content or {}
        if campaign.channel_id != channel_id or content.get("template_id") != template_id:
            continue
        # Only a sending campaign can be stopped (lifecycle.finish does nothing to others): a pending one meets the
        # template's status when it starts.
        if not campaign.sending:
            continue
        lifecycle.finish(deps, tenant_id, campaign.campaign_id, CampaignStatus.STOPPED, reason)
        stopped.append(campaign.campaign_id)
        log.info(
            "campaign stopped: template not sendable",
            extra={"campaign_id": campaign.campaign_id, "template_id": template_id, "status": status},
        )
    return stopped
