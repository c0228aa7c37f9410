"""The composition root: builds the boto3 clients, the table, the repositories, the queue, scheduler, bucket, secret
store and provider factories, once per Lambda container. Nothing else in chalicelib/ makes a client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config

from chalicelib import config
from chalicelib.adapters.blobs import Blobs
from chalicelib.adapters.dynamo.campaigns import CampaignRepo
from chalicelib.adapters.dynamo.channels import ChannelRepository
from chalicelib.adapters.dynamo.idempotency import IdempotencyRepository
from chalicelib.adapters.dynamo.optouts import OptOutRepository
from chalicelib.adapters.dynamo.pace import PaceRepo
from chalicelib.adapters.dynamo.phonebooks import PhonebookRepository
from chalicelib.adapters.dynamo.recipients import RecipientRepo
from chalicelib.adapters.dynamo.sessions import SessionRepository
from chalicelib.adapters.dynamo.table import Table
from chalicelib.adapters.dynamo.templates import TemplateRepository
from chalicelib.adapters.dynamo.tenants import TenantRepository
from chalicelib.adapters.dynamo.uploads import UploadRepository
from chalicelib.adapters.events import EventBus
from chalicelib.adapters.handovers import HandoverRepo
from chalicelib.adapters.parameters import Parameters
from chalicelib.adapters.providers import twilio, twilio_whatsapp, whatsapp_cloud, whatsapp_cloud_api
from chalicelib.adapters.providers.base import Provider, ProviderRules, WebhookVerifier
from chalicelib.adapters.queue import SendQueue
from chalicelib.adapters.scheduler import CampaignScheduler
from chalicelib.adapters.secrets import SecretStore
from chalicelib.config import Settings
from chalicelib.domain.channels import Channel
from chalicelib.domain.errors import UnprocessableError
from chalicelib.domain.model import Clock, IdFactory
from chalicelib.services.deps import Deps

# Retries and timeouts of every AWS client.
LIMITS: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 5},
    "connect_timeout": 5,
    "read_timeout": 20,
}


# The (provider, channel type) pairs this deployment wires, and their rules.
RULES: dict[tuple[str, str], ProviderRules] = {
    ("twilio", "sms"): twilio.TWILIO_SMS,
    ("twilio", "whatsapp"): twilio_whatsapp.TWILIO_WHATSAPP,
    ("whatsapp_cloud", "whatsapp"): whatsapp_cloud.WHATSAPP_CLOUD,
}


def provider_rules(provider: str, channel_type: str) -> ProviderRules:
    """The rules of the providers this deployment wires (by provider and channel type); 422 for any other."""
    rules = RULES.get((provider, channel_type))
    if rules is None:
        pairs = ", ".join(f"type {t!r} with provider {p!r}" for p, t in RULES)
        raise UnprocessableError(
            f"this deployment supports channels of {pairs}",
            code="unsupported_channel",
            details=[{"field": "type"}, {"field": "provider"}],
        )
    return rules


def _twilio(channel: Channel, creds: Mapping[str, str], settings: Settings) -> Provider:
    # One Twilio account serves SMS and WhatsApp channels: the channel's type picks the dialect.
    kind = twilio_whatsapp.TwilioWhatsAppProvider if channel.type == "whatsapp" else twilio.TwilioProvider
    return kind(
        creds["account_sid"],
        creds["auth_token"],
        api_base=settings.twilio_api_base,
        timeout=settings.provider_timeout_seconds,
    )


def _whatsapp_cloud(channel: Channel, creds: Mapping[str, str], settings: Settings) -> Provider:
    config = channel.provider_config or {}
    ids = config.get("phone_number_ids")
    return whatsapp_cloud_api.WhatsAppCloudProvider(
        creds["access_token"],
        creds["app_secret"],
        waba_id=str(config.get("waba_id") or ""),
        phone_number_ids={str(k): str(v) for k, v in ids.items()} if isinstance(ids, Mapping) else {},
        api_base=settings.graph_api_base,
        timeout=settings.provider_timeout_seconds,
    )


# How to reach each provider's account (a channel's provider and its credentials), and check its webhooks.
PROVIDERS: dict[str, Callable[[Channel, Mapping[str, str], Settings], Provider]] = {
    "twilio": _twilio,
    "whatsapp_cloud": _whatsapp_cloud,
}
VERIFIERS: dict[str, Callable[[Channel, Mapping[str, str]], WebhookVerifier]] = {
    "twilio": lambda channel, creds: twilio.TwilioSignature(creds["auth_token"]),
    "whatsapp_cloud": lambda channel, creds: whatsapp_cloud.HubSignature(creds["app_secret"]),
}


def tenant_deps(table_name: str, clock: Clock | None = None) -> Deps:
    """Just enough for the operator's tenant commands (the table, ids, the clock): see chalicelib/admin.py."""
    clock = clock or Clock()
    shared = Table(boto3.session.Session().client("dynamodb", config=Config(**LIMITS)), table_name)
    unused: Any = None  # the tenant commands touch nothing else
    return Deps(
        settings=unused,
        tenants=TenantRepository(shared),
        channels=unused,
        uploads=unused,
        phonebooks=unused,
        idempotency=unused,
        campaigns=unused,
        recipients=unused,
        handovers=unused,
        queue=unused,
        secrets=unused,
        scheduler=unused,
        blobs=unused,
        templates=unused,
        clock=clock,
        ids=IdFactory(clock=clock.now),
        provider_for=unused,
        verifier_for=unused,
        rules_for=unused,
    )


def build(settings: Settings, clock: Clock | None = None) -> Deps:
    """Real adapters over boto3 clients (AWS, or moto when AWS_ENDPOINT_URL points at it)."""
    clock = clock or Clock()
    cfg = Config(**LIMITS)
    session = boto3.session.Session()
    if settings.webhook_base_url_parameter and not settings.webhook_base_url:
        # The webhooks function's own URL (infra/template.json puts it in SSM: its environment cannot name it).
        base = Parameters(session.client("ssm", config=cfg)).get(settings.webhook_base_url_parameter)
        settings = dataclasses.replace(settings, webhook_base_url=base.rstrip("/"))
    dynamodb = session.client("dynamodb", config=cfg)
    shared = Table(dynamodb, settings.table_name)

    def provider_for(channel: Channel, creds: Mapping[str, str]) -> Provider:
        # The settings are read when called: a test may change them after build().
        return PROVIDERS[channel.provider](channel, creds, deps.settings)

    def verifier_for(channel: Channel, creds: Mapping[str, str]) -> WebhookVerifier:
        return VERIFIERS[channel.provider](channel, creds)

    deps = Deps(
        settings=settings,
        tenants=TenantRepository(shared),
        channels=ChannelRepository(shared),
        uploads=UploadRepository(shared),
        phonebooks=PhonebookRepository(shared),
        idempotency=IdempotencyRepository(shared),
        campaigns=CampaignRepo(shared),
        recipients=RecipientRepo(shared),
        handovers=HandoverRepo(shared),
        pace=PaceRepo(shared),
        queue=SendQueue(session.client("sqs", config=cfg), settings.send_queue_url, config.SEND_DLQ_NAME),
        secrets=SecretStore(session.client("secretsmanager", config=cfg), settings.secrets_prefix),
        scheduler=CampaignScheduler(
            session.client("scheduler", config=cfg),
            settings.scheduler_group,
            settings.scheduler_target_arn,
            settings.scheduler_role_arn,
        ),
        blobs=Blobs(session.client("s3", config=Config(signature_version="s3v4", **LIMITS)), settings.upload_bucket),
        templates=TemplateRepository(shared),
        sessions=SessionRepository(shared),
        optouts=OptOutRepository(shared),
        events=EventBus(
            session.client("events", config=cfg),
            session.client("secretsmanager", config=cfg),
            bus_name=settings.event_bus_name,
            target_role_arn=settings.event_target_role_arn,
            dead_letter_arn=settings.event_dead_letter_arn,
            secrets_prefix=settings.secrets_prefix,
        ),
        clock=clock,
        ids=IdFactory(clock=clock.now),
        provider_for=provider_for,
        verifier_for=verifier_for,
        rules_for=provider_rules,
    )
    return deps


_current: Deps | None = None


def current() -> Deps:
    """This container's dependencies, created on first use."""
    global _current
    if _current is None:
        from chalicelib.config import settings

        _current = build(settings())
    return _current


def override(deps: Deps | None) -> None:
    """Replace this process's dependencies (tests, the local stack)."""
    global _current
    _current = deps
