"""Channels: a provider account and its sender numbers. Credentials go to the secret store only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.providers.base import ProviderRules
from chalicelib.domain.channels import (
    DEFAULT_EXPIRE_HOURS,
    FINISHED_CAMPAIGN_STATUSES,
    Channel,
    ChannelChanges,
    CreateChannel,
    PatchChannel,
)
from chalicelib.domain.errors import (
    ChannelChangedError,
    ConcurrencyError,
    ConflictError,
    NotFoundError,
    UnprocessableError,
)
from chalicelib.domain.model import utc_iso
from chalicelib.domain.phone import check_numbers
from chalicelib.domain.sessions import check_expire_hours, check_routing_target
from chalicelib.services.deps import Deps
from chalicelib.services.providers import rules_of, webhook_url
from chalicelib.services.webhooks import forget_channel

MAX_MPS = 1000.0
MIN_MPS = 0.01  # one message every 100 s
FINISHED = FINISHED_CAMPAIGN_STATUSES
# A delete that keeps losing to campaigns created on the channel gives up after this many tries.
DELETE_ATTEMPTS = 10


def _check_senders(senders: tuple[str, ...]) -> tuple[str, ...]:
    check = check_numbers(list(senders))
    if check.invalid:
        raise UnprocessableError(
            "every sender must be a valid E.164 phone number",
            code="invalid_phone_number",
            details=[{"field": f"senders.{i['index']}", **i} for i in check.invalid],
        )
    return tuple(check.valid)


def _check_mps(mps: float | None) -> None:
    if mps is not None and not (MIN_MPS <= mps <= MAX_MPS):
        raise UnprocessableError(
            f"mps must be from {MIN_MPS:g} to {MAX_MPS:g}", code="invalid_mps", details=[{"field": "mps"}]
        )


def _check_credentials(rules: ProviderRules, credentials: Mapping[str, str]) -> dict[str, str]:
    """The credentials to store, or 422 naming each field the provider could never accept (never echoing a value)."""
    creds = dict(credentials)
    problems = rules.credential_problems(creds)
    if problems:
        raise UnprocessableError(
            "the credentials could never be accepted by the provider: " + "; ".join(why for _, why in problems),
            code="invalid_credentials",
            details=[{"field": f"credentials.{field}", "message": why} for field, why in problems],
        )
    return creds


def _check_config(rules: ProviderRules, config: Mapping[str, Any] | None, senders: tuple[str, ...]) -> None:
    """422 naming each field of `provider_config` the provider could not work with for these senders."""
    problems = rules.config_problems(config, senders)
    if problems:
        raise UnprocessableError(
            "provider_config does not fit the provider: " + "; ".join(why for _, why in problems),
            code="invalid_provider_config",
            details=[{"field": field, "message": why} for field, why in problems],
        )


def _session_settings(target: Any, hours: Any) -> tuple[dict[str, str] | None, int | None]:
    """A channel's session settings as given (None: not given), or 422 naming the one that is not valid."""
    checked = check_routing_target(target, "default_routing_target") if target is not None else None
    return checked, check_expire_hours(hours) if hours is not None else None


def _config_view(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A channel's provider_config as answered (plain JSON values)."""
    if not config:
        return None
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in config.items()}


def view(deps: Deps, channel: Channel) -> dict[str, Any]:
    """A channel as the API answers it (never with credentials)."""
    cid = channel.channel_id
    answer: dict[str, Any] = {
        "id": cid,
        "name": channel.name,
        "type": channel.type,
        "provider": channel.provider,
        "senders": list(channel.senders),
        "mps": channel.mps,
        "default_routing_target": dict(channel.default_routing_target) if channel.default_routing_target else None,
        "session_expire_hours": channel.session_expire_hours,
        "webhooks": {
            "status_callback_url": webhook_url(deps, channel, "status"),
            "inbound_url": webhook_url(deps, channel, "inbound"),
        },
        "created_at": channel.created_at,
        "updated_at": channel.updated_at or channel.created_at,
    }
    config = _config_view(channel.provider_config)
    if config is not None:
        answer["provider_config"] = config  # shown, not secret; absent for a provider that takes none
    return answer


def create_channel(
    deps: Deps, tenant_id: str, command: CreateChannel, *, channel_id: str | None = None
) -> dict[str, Any]:
    """Create a channel; credentials are stored in the secret store before the channel exists."""
    rules = deps.rules_for(command.provider, command.type)  # 422 unsupported_channel for a kind this deployment lacks
    senders = _check_senders(command.senders)
    _check_mps(command.mps)
    creds = _check_credentials(rules, command.credentials)
    _check_config(rules, command.provider_config, senders)
    target, hours = _session_settings(command.default_routing_target, command.session_expire_hours)
    now = utc_iso(deps.clock.utcnow()) or ""
    channel_id = channel_id or deps.ids.new("ch")
    deps.secrets.put(tenant_id, channel_id, creds)
    channel = Channel(
        tenant_id=tenant_id,
        channel_id=channel_id,
        name=command.name,
        type=command.type,
        provider=command.provider,
        senders=senders,
        mps=float(command.mps) if command.mps is not None else rules.limits.default_mps,
        created_at=now,
        provider_config=dict(command.provider_config) if command.provider_config else None,
        default_routing_target=target,
        session_expire_hours=hours if hours is not None else DEFAULT_EXPIRE_HOURS,
    )
    try:
        deps.channels.create(channel)
    except Exception:
        deps.secrets.delete(tenant_id, channel_id)
        raise
    return view(deps, channel)


def get_channel(deps: Deps, tenant_id: str, channel_id: str) -> Channel:
    """One channel of the tenant, or 404."""
    channel = deps.channels.get(tenant_id, channel_id)
    if channel is None:
        raise NotFoundError("no such channel")
    return channel


def list_channels(deps: Deps, tenant_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of channels."""
    page = deps.channels.list(tenant_id, limit, cursor)
    return {"items": [view(deps, c) for c in page.items], "next_cursor": page.next_cursor}


def update_channel(deps: Deps, tenant_id: str, channel_id: str, command: PatchChannel) -> dict[str, Any]:
    """Change a channel's name, senders, mps, provider_config or credentials; every check comes before the first
    write (provider_config is checked against the senders as they will be)."""
    channel = get_channel(deps, tenant_id, channel_id)
    rules = rules_of(deps, channel)
    senders = _check_senders(command.senders) if command.senders is not None else None
    _check_mps(command.mps)
    creds = _check_credentials(rules, command.credentials) if command.credentials is not None else None
    target, hours = _session_settings(command.default_routing_target, command.session_expire_hours)
    config = dict(command.provider_config) if command.provider_config is not None else None
    if config is not None or senders is not None:
        _check_config(rules, config if config is not None else channel.provider_config, senders or channel.senders)
    if creds is not None:
        deps.secrets.put(tenant_id, channel_id, creds)
    forget_channel(channel_id)
    mps = float(command.mps) if command.mps is not None else None
    changes = ChannelChanges(
        name=command.name,
        senders=senders,
        mps=mps,
        provider_config=config,
        default_routing_target=target,
        clear_default_routing_target=command.clear_default_routing_target,
        session_expire_hours=hours,
    )
    return view(deps, deps.channels.update(tenant_id, channel_id, changes, utc_iso(deps.clock.utcnow()) or ""))


def delete_channel(deps: Deps, tenant_id: str, channel_id: str) -> None:
    """Delete a channel no unfinished campaign uses (409 otherwise)."""
    channel = get_channel(deps, tenant_id, channel_id)
    for _ in range(DELETE_ATTEMPTS):
        users = [
            c.campaign_id
            for c in deps.campaigns.of_tenant(tenant_id)
            if c.channel_id == channel_id and c.status not in FINISHED
        ]
        if users:
            raise ConflictError(
                "the channel is used by campaigns that are not finished",
                code="channel_in_use",
                details=[{"campaign_id": c} for c in users[:20]],
            )
        try:
            deps.channels.delete(tenant_id, channel_id, channel.use_seq)
        except ChannelChangedError as lost:
            # A campaign was created on it since it was read: look at the campaigns again, with the use_seq it has now.
            channel = lost.channel or channel
            continue
        deps.secrets.delete(tenant_id, channel_id)
        deps.templates.delete_all(tenant_id, channel_id)
        forget_channel(channel_id)
        return
    raise ConcurrencyError("the channel kept changing; try again")
