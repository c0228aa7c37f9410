"""The route table the OpenAPI document is assembled from: each operation's path, method, id, models and answers.

tests/unit/test_openapi.py checks that these are exactly the app's routes. Error answers name either a shared
response (`"NotFound"`) or a description and the codes the operation can answer with that status.
"""

from __future__ import annotations

from chalicelib.api import channel_schemas as channel_body
from chalicelib.api import responses as out
from chalicelib.api import schemas as body
from chalicelib.api import template_answers as tpl
from chalicelib.api.control_operations import CONTROL_OPERATIONS
from chalicelib.api.conversation_operations import OPTOUT_OPERATIONS, SESSION_OPERATIONS
from chalicelib.api.operation import PAGE, ErrorAnswer, Operation
from chalicelib.api.operation import query_param as _query
from chalicelib.api.operation import status_param as _status
from chalicelib.api.tenant_operations import TENANT_OPERATIONS

# What a campaign's settings must satisfy on create, edit (PATCH) and send alike, in the order they are checked
# (chalicelib/services/campaigns.py `_check_settings`).
SETTINGS_CHECKS = (
    "`channel_not_found`: no such channel for this tenant; `invalid_sender`: `sender` is not one of the channel's "
    "senders (details list them); `invalid_routing_target`: `send_mode` `session` without a valid `routing_target` "
    "(`type` `extension` or `queue`, `id` 1 to 16 digits), or a `routing_target` with `send_mode` `direct`; "
    "`template_not_supported`: content "
    "of type `template` needs a WhatsApp channel; `template_required`: a WhatsApp channel sends only templates (no "
    "`text` or `file` content); for content of type `template`, its recipients are checked first (below), then "
    "`template_not_found`: the channel stores no such template (sync its templates), `template_not_approved`: the "
    "template is `pending`, `rejected`, `paused` or `disabled` (details give its `status`), "
    "`template_variables_mismatch`: `variables` does not name exactly the template's variables (details list the "
    "`missing` and `unknown` ones), `unknown_column`: a `{column}` the recipients do not have (a CSV upload's columns, "
    "`name` for a phonebook, none for typed numbers), `invalid_variable_value`: a literal value or `default` that is "
    "blank, over 1,024 characters, with a new line or tab or more than 4 spaces in a row, "
    "`header_upload_required`: the template has an image, video or document header and no `header_upload_id`, "
    "`header_upload_not_allowed`: a `header_upload_id` for a template without one, the upload codes below for it, "
    "`media_type_not_supported` / `media_too_large`: a file the provider does not take as that header; for "
    "content of type `file`, `upload_not_found`: no "
    "such upload for this tenant, `upload_wrong_kind`: not a `media` upload, `upload_not_ready`: still `processing`, "
    "`upload_rejected`: the upload was rejected, `content_too_long`: its text has more than 1,600 characters, "
    "`media_too_large`: media and text together over Twilio's 5 MB (5,242,880 bytes) for an MMS, "
    "`media_type_not_supported`: a content type Twilio does not accept in an MMS; for content of type `text`, "
    "`content_empty`: `content.text` is blank, `content_too_long`: more than 1,600 characters; then the recipients: "
    "`too_many_recipients`: more than 10,000 typed `numbers` (x-extension); `invalid_phone_number`: numbers that are "
    "not valid E.164 (details list the first 100, `field` `recipients.numbers.<index>`); `invalid_recipients`: a "
    "`phonebook` together with `numbers` or `upload_id`; `phonebook_not_found`: no such phonebook for this tenant; "
    "`no_recipients`: no contact of the phonebook has a number of that `number_type`; for `upload_id`, "
    "`upload_not_found`, `upload_wrong_kind` (not a `contacts_csv` upload), `upload_not_ready` and "
    "`upload_rejected` as above; `no_recipients`: no number at all; `too_many_recipients`: more than 1,000 after "
    "removing duplicates (a setting)."
)
SETTINGS_CODES = (
    "channel_not_found",
    "invalid_sender",
    "invalid_routing_target",
    "template_not_supported",
    "template_required",
    "template_not_found",
    "template_not_approved",
    "template_variables_mismatch",
    "unknown_column",
    "invalid_variable_value",
    "header_upload_required",
    "header_upload_not_allowed",
    "upload_not_found",
    "upload_wrong_kind",
    "upload_not_ready",
    "upload_rejected",
    "content_empty",
    "content_too_long",
    "media_too_large",
    "media_type_not_supported",
    "phonebook_not_found",
    "invalid_phone_number",
    "invalid_recipients",
    "no_recipients",
    "too_many_recipients",
)
INVALID_SCHEDULE = (
    "`invalid_schedule`: `send_time.at` is not an RFC 3339 time with an offset, not in the future, or more than a "
    "year ahead"
)
NOT_EDITABLE = (
    "`campaign_not_editable`: the campaign is not a `draft` (details give its `status`).",
    "campaign_not_editable",
)
LIMIT_REACHED = (
    "`campaign_limit_reached`: the tenant has the most campaigns allowed (1,000 by default; deleting one frees a place)"
)
_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_WEBHOOK_ERRORS: dict[int, ErrorAnswer] = {
    400: "BadRequest",
    403: "InvalidSignature",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}
_DIGITS = {"type": "string", "pattern": "^[0-9]+$"}
NO_TEMPLATES = (
    "`templates_not_supported`: the channel is not a WhatsApp one (an SMS channel has no templates).",
    "templates_not_supported",
)
_TEMPLATE_STATUS = {
    "name": "status",
    "in": "query",
    "required": False,
    "description": "Only templates with this status (another value: `400 invalid_request`).",
    "schema": {"type": "string", "enum": ["approved", "pending", "rejected", "paused", "disabled"]},
    "x-extension": True,
}


_CORE: tuple[Operation, ...] = (
    Operation(
        "GET", "/v1/health", "health", "meta", "Liveness; needs no key.",
        {200: ("The service answers.", out.Health)}, auth=False,
    ),
    Operation(
        "GET", "/v1/openapi.json", "openapi", "meta", "This document.",
        {200: ("The OpenAPI 3.1 document, with this deployment as its server.", None)},
    ),
    # ---------------------------------------------------------------------------------------------------- channels
    Operation(
        "POST", "/v1/channels", "createChannel", "channels",
        "Create a channel; its credentials go to the secret store and are never answered.",
        {201: ("The channel, with the webhook URLs to configure at the provider.", out.Channel)},
        {
            422: (
                "`unsupported_channel`: a `type` and `provider` this deployment does not wire (`sms` is `twilio` "
                "only; x-extension); "
                "`invalid_phone_number`: a sender is not a valid E.164 number (details list each, `field` "
                "`senders.<index>`); `invalid_mps`: `mps` not from 0.01 to 1000; `invalid_credentials`: credentials "
                "the provider could never accept (see `Credentials`; details name each field, "
                "`credentials.account_sid` or `credentials.access_token`, never its value; the other provider's set "
                "is refused too); `invalid_provider_config`: `provider_config` does not fit the provider and senders "
                "(`whatsapp_cloud` needs `waba_id` and one phone number id per sender; `twilio` takes none; details "
                "name each field); `invalid_routing_target`: a malformed `default_routing_target`; "
                "`invalid_session_expire_hours`: not a whole number from 1 to 720. Nothing is saved.",
                "unsupported_channel", "invalid_phone_number", "invalid_mps", "invalid_credentials",
                "invalid_provider_config", "invalid_routing_target", "invalid_session_expire_hours",
            ),
            503: "TryAgain",
        },
        body=channel_body.ChannelIn,
    ),
    Operation(
        "GET", "/v1/channels", "listChannels", "channels", "The tenant's channels, oldest first.",
        {200: ("A page of channels.", out.ChannelList)}, {400: "BadRequest"}, parameters=PAGE,
    ),
    Operation(
        "GET", "/v1/channels/{channel_id}", "getChannel", "channels", "One channel.",
        {200: ("The channel.", out.Channel)},
    ),
    Operation(
        "PATCH", "/v1/channels/{channel_id}", "updateChannel", "channels",
        "Change a channel's name, senders, mps, provider_config, credentials or session settings (any of them; null "
        "leaves one as is, except `default_routing_target`, which null removes).",
        {200: ("The channel as changed.", out.Channel)},
        {
            422: (
                "`invalid_phone_number`: a sender is not a valid E.164 number; `invalid_mps`: `mps` not from 0.01 to "
                "1000; `invalid_credentials`: credentials the provider could never accept (details name each field); "
                "`invalid_provider_config`: the `provider_config` (given, or the stored one when only `senders` "
                "change) does not fit the senders as they will be; `invalid_routing_target`, "
                "`invalid_session_expire_hours` as on create. Nothing is changed: not the channel, not the "
                "stored credentials.",
                "invalid_phone_number", "invalid_mps", "invalid_credentials", "invalid_provider_config",
                "invalid_routing_target", "invalid_session_expire_hours",
            ),
        },
        body=channel_body.ChannelPatch,
    ),
    Operation(
        "DELETE", "/v1/channels/{channel_id}", "deleteChannel", "channels",
        "Delete a channel (and its credentials and synced templates) that no unfinished campaign uses.",
        {204: ("Deleted.", None)},
        {
            409: (
                "`channel_in_use`: campaigns that are not `completed` or `stopped` use the channel (details list up "
                "to 20 `campaign_id`s).",
                "channel_in_use",
            ),
            503: "TryAgain",
        },
    ),
    # --------------------------------------------------------------------------------------------------- templates
    Operation(
        "POST", "/v1/channels/{channel_id}/templates/sync", "syncTemplates", "templates",
        "Pull the channel's message templates from the provider (every page) and store them in place of the old ones.",
        {200: ("What was stored: the first page, the total and the count of each status.", tpl.TemplateSync)},
        {
            415: "UnsupportedMediaType",
            422: (
                NO_TEMPLATES[0] + " `provider_refused`: the provider refused the listing (credentials or permissions "
                "rejected; details say what it said). Nothing is changed.",
                NO_TEMPLATES[1], "provider_refused",
            ),
            503: (
                "`provider_unavailable`: the provider could not be reached or did not answer; `try_again`: the "
                "channel's credentials could not be read. Nothing is changed; the sync may be repeated.",
                "provider_unavailable", "try_again",
            ),
        },
        description=(
            "`whatsapp_cloud`: the WhatsApp Business Account's `GET /{waba_id}/message_templates`; `twilio`: the "
            "Content API's contents with their WhatsApp approval. A template the provider no longer lists is "
            "removed. A body is not needed and is ignored. " + tpl.STATUS_MAPPING
        ),
    ),
    Operation(
        "GET", "/v1/channels/{channel_id}/templates", "listTemplates", "templates",
        "The channel's templates as last synced, by id.",
        {200: ("A page of templates.", tpl.TemplateList)},
        {400: "BadRequest", 422: NO_TEMPLATES},
        description="Statuses change with the provider's webhook between syncs. " + tpl.STATUS_MAPPING,
        parameters=(_TEMPLATE_STATUS, *PAGE),
    ),
    Operation(
        "GET", "/v1/channels/{channel_id}/templates/{template_id}", "getTemplate", "templates",
        "One template of the channel (x-extension).",
        {200: ("The template.", tpl.Template)},
        {422: NO_TEMPLATES},
        extra={"x-extension": True},
    ),
    # -------------------------------------------------------------------------------------------------- phonebooks
    Operation(
        "GET", "/v1/phonebooks", "listPhonebooks", "phonebooks",
        "The tenant's phonebooks, by id, without their contacts.",
        {200: ("A page of phonebooks.", out.PhonebookList)}, {400: "BadRequest"}, parameters=PAGE,
    ),
    Operation(
        "PUT", "/v1/phonebooks/{phonebook_id}", "putPhonebook", "phonebooks",
        "Create or replace a whole phonebook under the PBX's own id.",
        {
            200: ("Replaced: the phonebook as stored, with its contacts.", out.Phonebook),
            201: ("Created: the phonebook as stored, with its contacts.", out.Phonebook),
        },
        {
            422: (
                "`invalid_phone_number`: numbers that are not valid E.164 (details list the first 100 as "
                "`{field: contacts.<index>.numbers.<type>, value, reason}`); nothing is stored.",
                "invalid_phone_number",
            ),
        },
        description=(
            "The contacts given replace all the stored ones at once: a reader sees the old phonebook or the new one, "
            "never a mix. Nothing is stored when the request is refused."
        ),
        body=body.PhonebookIn,
    ),
    Operation(
        "GET", "/v1/phonebooks/{phonebook_id}", "getPhonebook", "phonebooks", "One phonebook with its contacts.",
        {200: ("The phonebook.", out.Phonebook)}, {503: "TryAgain"},
    ),
    Operation(
        "DELETE", "/v1/phonebooks/{phonebook_id}", "deletePhonebook", "phonebooks",
        "Delete a phonebook and its contacts.", {204: ("Deleted.", None)},
        description=(
            "Allowed even while a draft or scheduled campaign names it (that campaign finds the phonebook missing "
            "when it starts)."
        ),
    ),
    # --------------------------------------------------------------------------------------------------- campaigns
    Operation(
        "POST", "/v1/campaigns", "createCampaign", "campaigns",
        "Create a campaign: it sends now (or waits, `pending`), is scheduled, or is a draft.",
        {
            201: (
                "The campaign: `executing` or `pending`, `scheduled`, or `draft`. A request repeated with the same "
                "`Idempotency-Key` answers the campaign the first one created, with the header "
                "`Idempotent-Replayed: true` (x-extension).",
                out.Campaign,
            )
        },
        {
            409: (
                LIMIT_REACHED + "; `channel_not_found`: the channel was deleted while the campaign was being created; "
                "`request_in_progress`: the first request with this `Idempotency-Key` is still being processed "
                "(x-extension).",
                "campaign_limit_reached", "channel_not_found", "request_in_progress",
            ),
            422: (
                "Checked in this order. " + SETTINGS_CHECKS + " Then " + INVALID_SCHEDULE + "; "
                "`idempotency_key_reused`: the `Idempotency-Key` came with a different request before (x-extension).",
                *SETTINGS_CODES, "invalid_schedule", "idempotency_key_reused",
            ),
            503: "TryAgain",
        },
        body=body.CampaignIn,
        parameters=("idempotency_key",),
        extra={
            "headers": {
                "Idempotent-Replayed": {
                    "description": "`true` when this answer replays an earlier request (x-extension).",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        },
    ),
    Operation(
        "GET", "/v1/campaigns", "listCampaigns", "campaigns",
        "The tenant's campaigns, newest first, optionally of one status.",
        {200: ("A page of campaigns.", out.CampaignList)}, {400: "BadRequest"},
        parameters=(_status("campaigns", "CampaignStatus", extension=True), *PAGE),
    ),
    Operation(
        "GET", "/v1/campaigns/{campaign_id}", "getCampaign", "campaigns",
        "One campaign with its live result figures.", {200: ("The campaign.", out.Campaign)},
    ),
    Operation(
        "PATCH", "/v1/campaigns/{campaign_id}", "updateCampaign", "campaigns",
        "Edit a draft: the fields given replace the stored ones; every setting is checked again.",
        {200: ("The draft as changed.", out.Campaign)},
        {
            409: NOT_EDITABLE,
            422: ("As on create, checked in this order. " + SETTINGS_CHECKS, *SETTINGS_CODES),
            503: "TryAgain",
        },
        description=(
            "Drafts only. An absent (or null) field is left as it is; `recipients` and `content` are replaced whole. "
            "The campaign's settings as changed pass the same checks as a create (a draft whose channel, upload or "
            "phonebook has gone since is refused until it is fixed). `send_time` is not a field here "
            "(`400 invalid_request`): a draft goes out with `POST .../send`."
        ),
        body=body.CampaignPatch,
    ),
    Operation(
        "DELETE", "/v1/campaigns/{campaign_id}", "deleteCampaign", "campaigns",
        "Delete a campaign that is not sending, with its recipients; frees its place in the limit.",
        {204: ("Deleted.", None)},
        {
            409: (
                "`campaign_busy`: the campaign is `executing` or `retrying`; it can be deleted once it has finished.",
                "campaign_busy",
            ),
            503: "TryAgain",
        },
        description=(
            "A `scheduled` campaign's start schedule is removed; a `pending` one leaves the tenant's queue (the "
            "campaigns behind it move up). The tenant may then create another campaign in its place."
        ),
    ),
    Operation(
        "POST", "/v1/campaigns/{campaign_id}/send", "sendCampaign", "campaigns", "Send a draft now, or schedule it.",
        {200: ("The campaign: `executing`, `pending` or `scheduled`.", out.Campaign)},
        {
            409: NOT_EDITABLE,
            422: (
                "As on create, checked in this order. " + SETTINGS_CHECKS + " Then " + INVALID_SCHEDULE + ".",
                *SETTINGS_CODES, "invalid_schedule",
            ),
            503: "TryAgain",
        },
        description=(
            "Drafts only. Every setting is checked again, as on create. `now`: the campaign is `executing`, or "
            "`pending` while another campaign of the tenant is sending; `scheduled`: it starts at `scheduled_at`."
        ),
        body=body.SendIn,
    ),
    Operation(
        "POST", "/v1/campaigns/{campaign_id}/duplicate", "duplicateCampaign", "campaigns",
        "A new draft with the same settings and recipients.", {201: ("The new draft.", out.Campaign)},
        {
            409: (
                LIMIT_REACHED + "; `channel_not_found`: the campaign's channel has been deleted.",
                "campaign_limit_reached", "channel_not_found",
            ),
            415: "UnsupportedMediaType",
            422: (
                "`template_not_found` / `template_not_approved`: a template campaign whose template is no longer on "
                "the channel, or no longer `approved` (details give its `status`).",
                "template_not_found", "template_not_approved",
            ),
            503: "TryAgain",
        },
        description=(
            "Any campaign can be duplicated, whatever its status. The copy is a `draft` named like the original with "
            "` (copy)` appended (the same name when that would be over 200 characters), with the same channel, "
            "sender, content, send mode and recipients as given (a phonebook or upload is resolved again when the "
            "copy is sent). The settings are not checked again until it is edited or sent, except a template "
            "campaign's template, which must still be approved. A body is not needed and is ignored."
        ),
    ),
    Operation(
        "POST", "/v1/campaigns/{campaign_id}/retry", "retryCampaign", "campaigns",
        "Resend the failed messages of a `completed` or `stopped` campaign.",
        {200: ("The campaign: `retrying` or `pending`.", out.Campaign)},
        {
            409: (
                "`campaign_not_retryable`: the campaign is not `completed` or `stopped` (details give its `status`; "
                "x-extension); `nothing_to_retry`: no message failed in a way worth resending, or those that failed "
                "may be resent only later (a WhatsApp 131049/63049 refusal: 24 hours after it; the message and "
                "details give `retry_from`); `campaign_busy`: the campaign changed status while the retry started "
                "(read it again).",
                "campaign_not_retryable", "nothing_to_retry", "campaign_busy",
            ),
            415: "UnsupportedMediaType",
            422: (
                "`template_not_found` / `template_not_approved`: a template campaign whose template is no longer on "
                "the channel or not `approved` (say still `paused`: details give its `status`); retry once a sync or "
                "the provider's webhook shows it approved again.",
                "template_not_found", "template_not_approved",
            ),
            503: "TryAgain",
        },
        description=(
            "Resends to the recipients whose status is `failed` or `undelivered`, except those whose error is `21610` "
            "(the number opted out) or `send_interrupted` (the message may have gone out: a hand-over the provider's "
            "records could not settle within a day), and finishes the sending of recipients still `queued` (a "
            "`stopped` campaign). A campaign stopped before its recipients were written starts again. The status "
            "becomes `retrying`, or `pending` while another campaign of the tenant is sending; `stop_reason` and "
            "`completed_at` are cleared and `started_at` becomes the retry's start when it starts. Each resend counts "
            "in the recipient's `attempts`. A body is not needed and is ignored."
        ),
    ),
    Operation(
        "GET", "/v1/campaigns/{campaign_id}/recipients", "listRecipients", "campaigns",
        "A campaign's recipients: typed numbers first, then the upload's or phonebook's.",
        {200: ("A page of recipients.", out.RecipientList)}, {400: "BadRequest"},
        description=(
            "Recipients are written when sending starts (the phonebook or upload resolved then, duplicates removed): "
            "a `draft` or `scheduled` campaign, or a `pending` one not started yet, lists none."
        ),
        parameters=(
            {
                **_status("recipients", "RecipientStatus"),
                "description": (
                    "Only recipients with this status (another value: `400 invalid_request`). `failed` lists exactly "
                    "what the campaign's `result.failed` counts: `failed` and `undelivered` recipients; `undelivered` "
                    "lists those alone."
                ),
            },
            *PAGE,
        ),
    ),
    # ----------------------------------------------------------------------------------------------------- uploads
    Operation(
        "POST", "/v1/uploads", "createUpload", "uploads",
        "Announce a file and get a URL to PUT it to; or send a small contact CSV inline.",
        {
            201: (
                "JSON: the upload, `processing` at stage `awaiting_file`, with where to PUT the file. Inline: the "
                "upload as imported, `ready` or `rejected` (stage `done`).",
                out.UploadTicket,
            )
        },
        {
            413: (
                "`payload_too_large`: the announced `size` is over 50 MB (52,428,800 bytes) for a contact CSV or "
                "100 MB (104,857,600 bytes) for media, or an inline CSV is over 5 MB (5,242,880 bytes); details give "
                "`size` and `max`.",
                "payload_too_large",
            ),
            422: (
                "`invalid_filename`: blank, or with a slash, a backslash or a control character; "
                "`filename_too_long`: 127 characters or more; `invalid_content_type`: not a media type "
                "(`type/subtype`), or for a contact CSV not one of `text/csv`, `text/plain`, `application/csv`, "
                "`application/vnd.ms-excel`, `text/x-csv`. Checked in this order, the size (`413`) between the "
                "filename and the content type.",
                "invalid_filename", "filename_too_long", "invalid_content_type",
            ),
        },
        description=(
            "JSON (`UploadIn`): the answer's `upload_url` takes the file with one HTTP `PUT` of exactly `size` bytes "
            "and the `upload_headers`, before `expires_at` (an hour); the file never passes through the API. The "
            "upload is then processed (a contact CSV imported, media checked): `GET /v1/uploads/{upload_id}` shows "
            "how that went. Processing happens once: media is kept as it was when checked, and another `PUT` to the "
            "URL afterwards changes neither the upload nor what a campaign sends.\n\n"
            "Inline: a contact CSV of at most 5 MB as the body with `Content-Type: text/csv` and the query parameters "
            "`kind=contacts_csv` and `filename`; it is imported before the answer, which shows the outcome (`ready` "
            "or `rejected`; a rejected file is not an HTTP error).\n\n"
            "A contact CSV: UTF-8 (a BOM is allowed), comma, semicolon or tab separated, a header row with a `Number` "
            "column (any case); the other columns are kept as each contact's `variables`. Every number must be "
            "E.164: a file with any other number is rejected, listing the rows to fix."
        ),
        body=body.UploadIn,
        parameters=(
            _query(
                "kind", "Inline only: `contacts_csv` (the default); another value is `400`.",
                {"type": "string", "const": "contacts_csv"},
            ),
            _query(
                "filename",
                "Inline only, and required there (else `400 invalid_request`); the same rules as `UploadIn.filename` "
                "(`422 invalid_filename`, `filename_too_long`). A JSON announcement ignores it, so the document asks "
                "for it always.",
                {"type": "string", "minLength": 1, "maxLength": 126, "pattern": body.FILENAME_PATTERN},
                required=True,
            ),
        ),
        extra={
            "text/csv": {
                # No `type`: whatever the body holds arrives as text (an inline CSV that is not one is `rejected`).
                "schema": {"maxLength": 5242880, "description": "The CSV file's text, at most 5 MB."},
                "example": "Number,first_name\n+41415084545,Anna\n",
            },
            "answer": {"oneOf": [{"$ref": f"#/components/schemas/{m}"} for m in ("UploadTicket", "Upload")]},
        },
    ),
    Operation(
        "GET", "/v1/uploads/{upload_id}", "getUpload", "uploads", "An upload and how its processing went.",
        {200: ("The upload.", out.Upload)},
        description=(
            "An upload whose URL expired (with a minute's grace) with no file put to it is `rejected` with "
            "`error.code` `upload_expired`."
        ),
    ),
    # ---------------------------------------------------------------------------------------------------- webhooks
    Operation(
        "POST", "/webhooks/twilio/{channel_id}/status", "twilioStatusCallback", "webhooks",
        "Twilio's status callback for one message.",
        {204: ("Accepted (recorded, or nothing to record).", None)}, {**_WEBHOOK_ERRORS, 503: "TryAgain"},
        description=(
            "Recorded forward only: a replayed or late report never moves a recipient backwards and never counts "
            "twice. Reports for unknown recipients or statuses with nothing to record are accepted and ignored. A "
            "report that could not be recorded (its write kept losing races, the table refused it) is answered 503, "
            "never 2xx, so Twilio posts it again."
        ),
        body=out.TwilioStatusForm,
        auth=False,
        parameters=(
            _query("c", "The campaign id, set by the service in the callback URL it gives Twilio.", {"type": "string"}),
            _query("r", "The recipient's index, set by the service in the callback URL.", _DIGITS),
            _query(
                "a",
                "The recipient's attempt (1 for the first send, one more for each resend), set by the service in the "
                "callback URL; a report about another attempt than the recipient's latest is accepted and ignored (a "
                "late report about a message a retry replaced).",
                _DIGITS,
                **{"x-extension": True},
            ),
            _query(
                "s",
                "The recipient's counter shard, set by the service in the callback URL, so the common report (a sent "
                "message delivered) is recorded in one conditional write.",
                _DIGITS,
                **{"x-extension": True},
            ),
        ),
    ),
    Operation(
        "POST", "/webhooks/twilio/{channel_id}/inbound", "twilioInbound", "webhooks",
        "An incoming message to one of the channel's senders; kept, no automatic reply.",
        {200: ("An empty TwiML answer: no automatic reply.", None)}, _WEBHOOK_ERRORS,
        body=out.TwilioInboundForm,
        auth=False,
        extra={"text/xml": {"schema": {"type": "string"}, "example": _TWIML}},
    ),
    Operation(
        "GET", "/webhooks/whatsapp/{channel_id}", "whatsappVerify", "webhooks",
        "Meta's verification handshake: echo `hub.challenge` when the verify token is the channel's.",
        {200: ("`hub.challenge`, as it was sent.", None)},
        {
            403: (
                "`invalid_signature`: an unknown channel, a `hub.verify_token` that is not the channel's (or none), "
                "`hub.mode` other than `subscribe`, or no `hub.challenge`.",
                "invalid_signature",
            ),
        },
        description=(
            "Configure the channel's `webhooks.status_callback_url` as the Meta app's webhook Callback URL with the "
            "channel's `verify_token`; Meta calls this once to check it."
        ),
        auth=False,
        parameters=(
            _query("hub.mode", "`subscribe`.", {"type": "string", "enum": ["subscribe"]}),
            _query("hub.challenge", "What to echo.", {"type": "string"}),
        ),
        extra={"security": "metaVerifyToken", "text/plain": {"schema": {"type": "string"}, "example": "1158201444"}},
    ),
    Operation(
        "POST", "/webhooks/whatsapp/{channel_id}", "whatsappWebhook", "webhooks",
        "Meta's webhook: a signed batch of message statuses, incoming messages and template status updates.",
        {200: ("Recorded (or nothing to record).", tpl.WhatsAppReceipt)},
        {
            **_WEBHOOK_ERRORS,
            503: (
                "`try_again`: some items could not be recorded (the others were); Meta sends the whole POST again "
                "and only what is missing is recorded.",
                "try_again",
            ),
        },
        description=(
            "Verified first: `X-Hub-Signature-256` over the raw body with the channel's `app_secret` (`403`, and "
            "nothing changes, when missing, forged or over an altered body). Then every item of the batch: "
            "statuses `sent`, `delivered`, `read` and `failed` (with `errors[]`) move their recipient forward only, "
            "found by the reference the service handed over in `biz_opaque_callback_data` (Meta may skip "
            "`delivered`, or send `sent` after `read`: never backwards, never counted twice); incoming messages are "
            "kept once by id, with the message they reply to (`context.id`) and a quick reply's payload; a "
            "`message_template_status_update` sets the stored template's status, and a template now `paused` or "
            "`disabled` stops every campaign sending it (`stop_reason.code` `template_paused` or "
            "`template_disabled`; `retry` resumes it). A signed body not of Meta's shape records nothing and is "
            "answered `200`, so that Meta does not send it again."
        ),
        body=tpl.MetaWebhook,
        auth=False,
        extra={"media": "application/json", "security": "metaSignature"},
    ),
)  # fmt: skip

OPERATIONS: tuple[Operation, ...] = (
    _CORE + CONTROL_OPERATIONS + SESSION_OPERATIONS + OPTOUT_OPERATIONS + TENANT_OPERATIONS
)
