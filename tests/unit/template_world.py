"""What the template campaign tests share: the templates a WhatsApp channel stores, CSV and media uploads in the
in-memory bucket, and a campaign created on the WhatsApp channel."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.commands import (
    CampaignSettings,
    CreateCampaign,
    PhonebookAudience,
    RecipientsSpec,
    SendDraft,
    SendNow,
    TemplateContent,
)
from chalicelib.domain.objects import media_key, processed_key
from chalicelib.domain.templates import NAMED, Template, TemplateUpdate
from chalicelib.domain.uploads import CSV, MEDIA, Upload, UploadStage, UploadStatus
from chalicelib.services import campaigns
from tests.unit.campaign_deps import TENANT, WA_CHANNEL, WA_SENDER, World

ORDER_UPDATE = Template(
    id="tpl_order",
    name="order_update",
    language="en",
    status="approved",
    body="Hi {{1}}, your order {{2}} has shipped.",
    variables=("1", "2"),
    category="utility",
)
WELCOME = Template(
    id="tpl_welcome",
    name="welcome",
    language="en",
    status="approved",
    body="Welcome {{first_name}}!",
    variables=("first_name",),
    parameter_format=NAMED,
)
SPRING_PROMO = Template(
    id="tpl_promo",
    name="spring_promo",
    language="en",
    status="approved",
    body="{{1}}",
    variables=("1",),
    category="marketing",
    header={"type": "image"},
    buttons=({"type": "quick_reply", "text": "Stop promotions"},),
)
INVOICE = Template(
    id="tpl_invoice",
    name="invoice",
    language="en",
    status="approved",
    body="Your invoice",
    header={"type": "document"},
)
PENDING = Template(id="tpl_pending", name="promo_pending", language="en", status="pending", body="Soon")
PAUSED = Template(id="tpl_paused", name="old_offer", language="en", status="paused", body="Old", reason="low quality")
TEMPLATES = (ORDER_UPDATE, WELCOME, SPRING_PROMO, INVOICE, PENDING, PAUSED)


def store_templates(w: World, templates: Sequence[Template] = TEMPLATES) -> None:
    """The channel's templates as a sync would store them."""
    w.deps.templates.replace_all(TENANT, WA_CHANNEL, templates, "2026-12-01T08:00:00Z")


def set_template_status(w: World, template_id: str, status: str) -> None:
    """A template's state changes at the provider (a webhook or a sync records it)."""
    w.deps.templates.apply_update(TENANT, WA_CHANNEL, TemplateUpdate(template_id, status), "2026-12-01T08:00:00Z")


def csv_upload(w: World, upload_id: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A ready contacts CSV (a Number column, then `columns`) whose processed list is in the bucket, as the import
    writes it."""
    lines = [json.dumps({"columns": list(columns)})] + [json.dumps([n, list(v)]) for n, v in rows]
    w.deps.blobs.put_bytes(processed_key(TENANT, upload_id), "\n".join(lines).encode(), "application/x-ndjson")
    w.deps.uploads.create(
        Upload(
            tenant_id=TENANT,
            upload_id=upload_id,
            kind=CSV,
            filename="contacts.csv",
            content_type="text/csv",
            size=100,
            status=UploadStatus.READY,
            stage=UploadStage.DONE,
            created_at="2026-12-01T08:00:00Z",
            rows=len(rows),
            valid=len(rows),
            columns=("Number", *columns),  # the header, as the import reports it
        )
    )
    return upload_id


def media_upload(w: World, upload_id: str, content_type: str = "image/jpeg", size: int = 50_000) -> str:
    """A ready media upload, its file pinned as the import pins it."""
    key = media_key(TENANT, upload_id, "etag1")
    w.deps.blobs.put_bytes(key, b"x" * 10, content_type)
    w.deps.uploads.create(
        Upload(
            tenant_id=TENANT,
            upload_id=upload_id,
            kind=MEDIA,
            filename="picture.jpg" if content_type.startswith("image") else "invoice.pdf",
            content_type=content_type,
            size=size,
            status=UploadStatus.READY,
            stage=UploadStage.DONE,
            created_at="2026-12-01T08:00:00Z",
            media_key=key,
        )
    )
    return upload_id


def template_settings(
    template_id: str,
    variables: Mapping[str, Any],
    *,
    numbers: Sequence[str] = (),
    upload_id: str | None = None,
    phonebook: str | None = None,
    header_upload_id: str | None = None,
    name: str = "WA",
) -> CampaignSettings:
    """A template campaign's settings on the WhatsApp channel."""
    return CampaignSettings(
        name=name,
        channel_id=WA_CHANNEL,
        sender=WA_SENDER,
        recipients=RecipientsSpec(
            numbers=tuple(numbers) or None,
            upload_id=upload_id,
            phonebook=PhonebookAudience(phonebook, "mobile") if phonebook else None,
        ),
        content=TemplateContent(template_id=template_id, variables=dict(variables), header_upload_id=header_upload_id),
    )


def create(w: World, settings: CampaignSettings, *, draft: bool = False) -> dict[str, Any]:
    """Create the campaign (sent now, or kept as a draft)."""
    created, _ = campaigns.create_campaign(
        w.deps, TENANT, CreateCampaign(settings, SendDraft() if draft else SendNow())
    )
    return created
