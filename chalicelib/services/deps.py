"""The dependencies every use case takes: adapters, clock, ids and settings, built once per Lambda container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.blobs import Blobs
from chalicelib.adapters.dynamo import CampaignRepo, RecipientRepo, Store
from chalicelib.adapters.handovers import HandoverRepo
from chalicelib.adapters.providers.base import Provider, ProviderRules, WebhookVerifier
from chalicelib.adapters.queue import SendQueue
from chalicelib.adapters.scheduler import CampaignScheduler
from chalicelib.adapters.secrets import SecretStore
from chalicelib.config import Settings
from chalicelib.domain.errors import UnprocessableError
from chalicelib.domain.model import Clock, IdFactory
from chalicelib.services.campaign_ports import Campaigns, Handovers, Recipients


@dataclass
class Deps:
    """What the services need from the outside world."""

    settings: Settings
    store: Store
    queue: SendQueue
    secrets: SecretStore
    scheduler: CampaignScheduler
    blobs: Blobs
    clock: Clock
    ids: IdFactory
    provider_for: Callable[[Mapping[str, Any], Mapping[str, str]], Provider]
    verifier_for: Callable[[Mapping[str, Any], Mapping[str, str]], WebhookVerifier]
    # The rules of a channel's provider, by (provider, channel type); 422 unsupported_channel for one not wired here.
    rules_for: Callable[[str, str], ProviderRules]
    campaigns: Campaigns
    recipients: Recipients
    handovers: Handovers


def build(settings: Settings, clock: Clock | None = None) -> Deps:
    """Real adapters over boto3 clients (AWS, or moto when AWS_ENDPOINT_URL points at it)."""
    import boto3
    from botocore.config import Config

    from chalicelib.adapters.providers.twilio import TWILIO_SMS, TwilioProvider, TwilioSignature

    clock = clock or Clock()
    _limits: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 5},
        "connect_timeout": 5,
        "read_timeout": 20,
    }
    cfg = Config(**_limits)
    session = boto3.session.Session()

    def provider_for(channel: Mapping[str, Any], creds: Mapping[str, str]) -> Provider:
        current = deps.settings  # read when called: a test may change the settings after build()
        return TwilioProvider(
            creds["account_sid"],
            creds["auth_token"],
            api_base=current.twilio_api_base,
            timeout=current.provider_timeout_seconds,
        )

    def verifier_for(channel: Mapping[str, Any], creds: Mapping[str, str]) -> WebhookVerifier:
        return TwilioSignature(creds["auth_token"])

    def rules_for(provider: str, channel_type: str) -> ProviderRules:
        if (provider, channel_type) == ("twilio", "sms"):
            return TWILIO_SMS
        raise UnprocessableError(
            "this deployment supports channels of type 'sms' with provider 'twilio' so far",
            code="unsupported_channel",
            details=[{"field": "type"}, {"field": "provider"}],
        )

    store = Store(session.client("dynamodb", config=cfg), settings.table_name)
    deps = Deps(
        settings=settings,
        store=store,
        queue=SendQueue(session.client("sqs", config=cfg), settings.send_queue_url),
        secrets=SecretStore(session.client("secretsmanager", config=cfg), settings.secrets_prefix),
        scheduler=CampaignScheduler(
            session.client("scheduler", config=cfg),
            settings.scheduler_group,
            settings.scheduler_target_arn,
            settings.scheduler_role_arn,
        ),
        blobs=Blobs(
            session.client("s3", config=Config(signature_version="s3v4", **_limits)),
            settings.upload_bucket,
        ),
        clock=clock,
        ids=IdFactory(clock=clock.now),
        provider_for=provider_for,
        verifier_for=verifier_for,
        rules_for=rules_for,
        campaigns=CampaignRepo(store),
        recipients=RecipientRepo(store),
        handovers=HandoverRepo(store),
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
