"""A template campaign's content: the template stored for the channel and approved, every variable given (a literal
or an audience column), the header's media; checked on create, edit, send, duplicate and retry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.channels import Channel
from chalicelib.domain.commands import TemplateContent
from chalicelib.domain.contacts_csv import NUMBER_HEADER
from chalicelib.domain.errors import UnprocessableError
from chalicelib.domain.templates import APPROVED, Template, literal_problem, snapshot
from chalicelib.services import uploads
from chalicelib.services.audience import Audience
from chalicelib.services.deps import Deps
from chalicelib.services.providers import rules_of

# A template is one WhatsApp message whatever its length; its text is Unicode.
TEMPLATE_ENCODING = "UTF-8"


def usable_template(deps: Deps, tenant_id: str, channel_id: str, template_id: str) -> Template:
    """The channel's stored template if it is approved; else 422 template_not_found or template_not_approved."""
    stored = deps.templates.get(tenant_id, channel_id, template_id)
    if stored is None:
        raise UnprocessableError(
            f"the channel has no template {template_id!r}; sync the channel's templates "
            f"(POST /v1/channels/{channel_id}/templates/sync) and use the id of one it lists",
            code="template_not_found",
            details=[{"field": "content.template_id", "template_id": template_id}],
        )
    template = stored.template
    if template.status != APPROVED:
        raise UnprocessableError(
            f"template {template.name!r} ({template.language}) is {template.status}; "
            "only approved templates can be used",
            code="template_not_approved",
            details=[
                {
                    "field": "content.template_id",
                    "template_id": template_id,
                    "status": template.status,
                    "reason": template.reason,
                }
            ],
        )
    return template


def audience_columns(deps: Deps, tenant_id: str, audience: Audience) -> frozenset[str]:
    """The variables each recipient of this audience may carry: a CSV upload's columns, a phonebook's `name`."""
    spec = audience.spec
    if spec.get("phonebook"):
        return frozenset({"name"})
    if spec.get("upload_id"):
        upload = uploads.ready_upload(deps, tenant_id, str(spec["upload_id"]), uploads.CSV, "recipients.upload_id")
        columns = list(upload.columns)
        # The header's (first) Number column is the recipient's number, not one of its variables.
        number = next((i for i, name in enumerate(columns) if name.lower() == NUMBER_HEADER), None)
        return frozenset(name for i, name in enumerate(columns) if i != number)
    return frozenset()


def _check_variables(template: Template, spec: Mapping[str, Any], columns: frozenset[str]) -> None:
    declared = list(template.variables)
    missing = [v for v in declared if v not in spec]
    unknown = [v for v in spec if v not in declared]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"not in the template {', '.join(unknown)}")
        raise UnprocessableError(
            f"template {template.name!r} takes the variables [{', '.join(declared)}]: " + "; ".join(parts),
            code="template_variables_mismatch",
            details=[{"field": "content.variables", "expected": declared, "missing": missing, "unknown": unknown}],
        )
    for name, value in spec.items():
        field = f"content.variables.{name}"
        if isinstance(value, Mapping):
            column, default = value.get("column"), value.get("default")
            if not isinstance(column, str) or not column:
                raise UnprocessableError(
                    f"{field} names no column", code="invalid_variable_value", details=[{"field": field}]
                )
            if column not in columns:
                raise UnprocessableError(
                    f"{field} takes column {column!r}, which the campaign's recipients do not have "
                    + (f"(they have: {', '.join(sorted(columns))})" if columns else "(typed numbers have no columns)"),
                    code="unknown_column",
                    details=[{"field": field, "column": column, "available": sorted(columns)}],
                )
            if default is not None:
                _literal(f"{field}.default", default)
        else:
            _literal(field, value)


def _literal(field: str, value: Any) -> None:
    problem = literal_problem(value) if isinstance(value, str) else "is not a string"
    if problem:
        raise UnprocessableError(
            f"{field} {problem}", code="invalid_variable_value", details=[{"field": field, "problem": problem}]
        )


def _header_media(
    deps: Deps, tenant_id: str, template: Template, content: TemplateContent, channel: Channel
) -> tuple[str, str]:
    """The header's upload (its pinned media object and file name), checked against what the provider takes."""
    kind = template.media_header
    field = "content.header_upload_id"
    rules = rules_of(deps, channel)
    if kind is None or not rules.limits.header_media:
        why = "has no media header" if kind is None else f"carries its own {kind} on {rules.title}"
        raise UnprocessableError(
            f"template {template.name!r} {why}; leave header_upload_id out",
            code="header_upload_not_allowed",
            details=[{"field": field}],
        )
    if content.header_upload_id is None:
        raise UnprocessableError(
            f"template {template.name!r} has a {kind} header: give its file as header_upload_id (a media upload)",
            code="header_upload_required",
            details=[{"field": field, "header_type": kind}],
        )
    upload = uploads.ready_upload(deps, tenant_id, content.header_upload_id, uploads.MEDIA, field)
    types, most = rules.limits.header_media.get(kind, (frozenset(), 0))
    content_type = upload.content_type.split(";", 1)[0].strip().lower()
    if content_type not in types:
        raise UnprocessableError(
            f"{rules.title} does not accept {content_type or 'this content type'} as a {kind} header",
            code="media_type_not_supported",
            details=[{"field": field, "content_type": content_type, "header_type": kind, "allowed": sorted(types)}],
        )
    size = int(upload.size or 0)
    if size > most:
        raise UnprocessableError(
            f"{rules.title} accepts a {kind} header of at most {most / 2**20:g} MB ({most:,} bytes); "
            f"this one has {size:,}",
            code="media_too_large",
            details=[{"field": field, "size": size, "max": most, "header_type": kind, "provider": rules.name}],
        )
    return str(upload.media_key or ""), upload.filename


def template_content(
    deps: Deps, tenant_id: str, content: TemplateContent, channel: Channel, audience: Audience
) -> tuple[dict[str, Any], int, str]:
    """The stored content of a template campaign (with a snapshot of its template), its segments and encoding."""
    if not rules_of(deps, channel).limits.templates:
        raise UnprocessableError(
            "templates need a WhatsApp channel", code="template_not_supported", details=[{"field": "content.type"}]
        )
    template = usable_template(deps, tenant_id, channel.channel_id, content.template_id)
    _check_variables(template, content.variables, audience_columns(deps, tenant_id, audience))
    out: dict[str, Any] = {
        "type": "template",
        "template_id": content.template_id,
        "variables": dict(content.variables),
        "header_upload_id": content.header_upload_id,
    }
    out["template"] = snapshot(template)
    # A provider that takes no header media (Twilio: the Content template holds its own) needs no upload.
    takes_media = bool(rules_of(deps, channel).limits.header_media)
    if (template.media_header is not None and takes_media) or content.header_upload_id is not None:
        media_key, filename = _header_media(deps, tenant_id, template, content, channel)
        if media_key:
            out["media_key"] = media_key  # the copy the checks describe (internal), as for an MMS
        if template.media_header == "document":
            out["template"]["header_filename"] = filename
    return out, 1, TEMPLATE_ENCODING


def template_required(channel: Channel) -> UnprocessableError:
    """The 422 for text or a file on a channel whose messages must be templates (WhatsApp)."""
    return UnprocessableError(
        f"a campaign on {channel.type} channel {channel.channel_id!r} must send an approved template: "
        "WhatsApp takes only templates for messages a business starts",
        code="template_required",
        details=[{"field": "content.type"}],
    )
