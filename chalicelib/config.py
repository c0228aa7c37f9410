"""Settings read once from the environment; a missing required one fails fast."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

# The send queue's name is needed at import time (the SQS decorator in app.py), before any settings load.
SEND_QUEUE_NAME = os.environ.get("SEND_QUEUE_NAME", "msgcampaigns-send.fifo")
# Likewise the queue S3 reports new uploads to (the upload worker's event source).
UPLOAD_QUEUE_NAME = os.environ.get("UPLOAD_QUEUE_NAME", "msgcampaigns-uploads")
# The send queue's dead-letter queue (infra/template.json), beside it: the minute tick stops what lands there.
SEND_DLQ_NAME = os.environ.get("SEND_DLQ_NAME", "msgcampaigns-send-dlq.fifo")
# And the table's stream (the events worker's event source). The placeholder is what Chalice packages;
# scripts/package.py replaces it with the table's StreamArn, and the local stack's pump reads moto's stream itself.
TABLE_STREAM_ARN = os.environ.get(
    "TABLE_STREAM_ARN", "arn:aws:dynamodb:us-east-1:123456789012:table/msgcampaigns/stream/placeholder"
)


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Deployment settings."""

    table_name: str
    send_queue_url: str
    public_base_url: str
    secrets_prefix: str
    scheduler_group: str
    scheduler_role_arn: str
    scheduler_target_arn: str
    max_campaigns_per_tenant: int
    max_recipients_per_campaign: int
    chunk_size: int
    twilio_api_base: str | None
    # Meta's Graph API, version included (the local stack points it at the simulator).
    graph_api_base: str
    # How long a provider call may take before its answer counts as lost (the hand-over is then uncertain).
    provider_timeout_seconds: float
    # How long an uncertain hand-over waits for the provider's status callback before its records are checked.
    settle_seconds: int
    attribution_window_days: int
    upload_bucket: str
    # Audiences up to this size are written while the create request waits; larger ones by the send worker.
    inline_dispatch_max: int
    # The PBX events (issue 11): the service's bus, the role EventBridge assumes to invoke a tenant's API destination,
    # the dead-letter queue of what cannot be delivered, and whether http://127.0.0.1 is an acceptable event_url
    # (the local stack only).
    event_bus_name: str = "msgcampaigns-events"
    event_target_role_arn: str = ""
    event_dead_letter_arn: str = ""
    allow_local_event_urls: bool = False
    # Where the providers reach the webhooks (the `webhooks` function's URL in AWS: no API Gateway charge); empty: the
    # public base. Every URL handed to a provider and every URL a signature is checked against starts with it.
    webhook_base_url: str = ""
    # The SSM parameter that holds it, for the `webhooks` function: its own URL cannot be in its own environment (the
    # URL depends on the function, infra/template.json), so it is read once per container (chalicelib/wiring.py).
    webhook_base_url_parameter: str = ""

    @property
    def webhook_base(self) -> str:
        """The base of every webhook URL the service hands out or checks a signature against (no trailing slash)."""
        return self.webhook_base_url or self.public_base_url


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process, read once."""
    return Settings(
        table_name=_required("TABLE_NAME"),
        send_queue_url=_required("SEND_QUEUE_URL"),
        public_base_url=_required("PUBLIC_BASE_URL").rstrip("/"),
        secrets_prefix=os.environ.get("SECRETS_PREFIX", "msgcampaigns/"),
        scheduler_group=os.environ.get("SCHEDULER_GROUP", "default"),
        scheduler_role_arn=os.environ.get("SCHEDULER_ROLE_ARN", ""),
        scheduler_target_arn=os.environ.get("SCHEDULER_TARGET_ARN", ""),
        max_campaigns_per_tenant=_int("MAX_CAMPAIGNS_PER_TENANT", 1000),
        max_recipients_per_campaign=_int("MAX_RECIPIENTS_PER_CAMPAIGN", 1000),
        chunk_size=_int("CHUNK_SIZE", 100),
        twilio_api_base=os.environ.get("TWILIO_API_BASE") or None,
        graph_api_base=(os.environ.get("GRAPH_API_BASE") or "https://graph.facebook.com/v21.0").rstrip("/"),
        provider_timeout_seconds=float(_int("PROVIDER_TIMEOUT_MS", 10_000)) / 1000.0,
        settle_seconds=_int("SETTLE_SECONDS", 120),
        attribution_window_days=_int("ATTRIBUTION_WINDOW_DAYS", 7),
        upload_bucket=_required("UPLOAD_BUCKET"),
        inline_dispatch_max=_int("INLINE_DISPATCH_MAX", 2000),
        event_bus_name=os.environ.get("EVENT_BUS_NAME") or "msgcampaigns-events",
        event_target_role_arn=os.environ.get("EVENT_TARGET_ROLE_ARN", ""),
        event_dead_letter_arn=os.environ.get("EVENT_DEAD_LETTER_ARN", ""),
        allow_local_event_urls=os.environ.get("ALLOW_LOCAL_EVENT_URLS", "") == "1",
        webhook_base_url=os.environ.get("WEBHOOK_BASE_URL", "").rstrip("/"),
        webhook_base_url_parameter=os.environ.get("WEBHOOK_BASE_URL_PARAMETER", ""),
    )
