"""The OpenAPI 3.1 document of what this deployment implements, extensions to the contract marked `x-extension`.

A plain literal, checked by tests/unit/test_openapi.py: it validates, it has exactly the app's routes and methods, its
request schemas match `chalicelib/api/schemas.py`, and every error code the services raise appears in it;
tests/functional/test_openapi_served.py checks real answers against its response schemas.
"""

from __future__ import annotations

import copy
from typing import Any

_JSON = "application/json"


def _error(description: str, *codes: str) -> dict[str, Any]:
    """An error answer whose `code` is one of `codes` (the shape every other error answer here spells out)."""
    return {
        "description": description,
        "content": {
            _JSON: {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {"properties": {"error": {"properties": {"code": {"enum": list(codes)}}}}},
                    ]
                }
            }
        },
    }


# What a campaign's settings must satisfy on create, edit (PATCH) and send alike, in the order they are checked
# (chalicelib/services/campaigns.py `_check_settings`).
_SETTINGS_CHECKS = (
    "`channel_not_found`: no such channel for this tenant; `invalid_sender`: `sender` is not one of the channel's "
    "senders (details list them); `unsupported_send_mode`: `send_mode` `session` is not available yet (x-extension); "
    "`invalid_routing_target`: a `routing_target` without `send_mode` `session`; `template_not_supported`: content "
    "of type `template` needs a WhatsApp channel (x-extension); for content of type `file`, `upload_not_found`: no "
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
_SETTINGS_CODES = (
    "channel_not_found",
    "invalid_sender",
    "unsupported_send_mode",
    "invalid_routing_target",
    "template_not_supported",
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
# An upload as answered (chalicelib/services/uploads.py `view`); the announcement's answer adds where to PUT the file.
_UPLOAD_REQUIRED = [
    "id",
    "kind",
    "filename",
    "content_type",
    "size",
    "status",
    "stage",
    "created_at",
    "expires_at",
    "processed_at",
    "error",
]
_CSV_REPORT = ["rows", "valid", "invalid", "duplicates", "columns", "errors"]
_UPLOAD_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string"},
    "kind": {"type": "string", "enum": ["contacts_csv", "media"]},
    "filename": {"type": "string"},
    "content_type": {
        "type": "string",
        "description": "As announced; once media is processed, as stored (what the PUT sent).",
    },
    "size": {
        "type": "integer",
        "minimum": 0,
        "description": "Bytes: as announced; once media is processed, as stored; an inline CSV's body.",
    },
    "status": {
        "type": "string",
        "enum": ["processing", "ready", "rejected"],
        "description": "`ready`: a campaign may use it; `rejected`: see `error`.",
    },
    "stage": {
        "type": "string",
        "enum": ["awaiting_file", "importing", "done"],
        "description": (
            "What `processing` waits for: `awaiting_file` (the PUT), `importing` (the file arrived and is being "
            "processed); `done` once `ready` or `rejected`."
        ),
        "x-extension": True,
    },
    "created_at": {"type": "string", "format": "date-time"},
    "expires_at": {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
        "description": "When the upload URL expires (an hour after the announcement); null for an inline CSV.",
    },
    "processed_at": {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
        "description": "When processing finished; null before, and for an upload whose file never came.",
        "x-extension": True,
    },
    "error": {
        "anyOf": [
            {
                "type": "object",
                "required": ["code", "message", "details"],
                "additionalProperties": False,
                "properties": {
                    "code": {
                        "type": "string",
                        "enum": [
                            "invalid_encoding",
                            "empty_file",
                            "no_rows",
                            "missing_number_column",
                            "invalid_csv",
                            "payload_too_large",
                            "invalid_phone_number",
                            "upload_expired",
                            "file_missing",
                            "contact_too_large",
                            "file_changing",
                        ],
                        "description": (
                            "`invalid_encoding`: not UTF-8 (details give the byte offset and row); `empty_file`: no "
                            "header row; `no_rows`: a header but no contact rows; `missing_number_column`: no "
                            "`Number` column (details list the columns); `invalid_csv`: not CSV text (a NUL byte, an "
                            "unclosed quote, a row over 1 MB); `payload_too_large`: over 50 MB (a contact CSV) or "
                            "100 MB (media); `invalid_phone_number`: rows whose number is not E.164 (every number "
                            "must be; details are the first 100 `errors`); `upload_expired`: no file was put before "
                            "the URL expired; `file_missing`: the file is not in storage; `contact_too_large`: a "
                            "contact's other columns (its variables) hold more than 32 KB; `invalid_csv` also when "
                            "the header's column names take more than 64 KB; `file_changing`: media was put again "
                            "and again while it was being checked (put it once)."
                        ),
                    },
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {}},
                },
            },
            {"type": "null"},
        ],
        "description": "Why the upload was rejected (not an HTTP error); null otherwise.",
        "x-extension": True,
    },
    "rows": {"type": "integer", "minimum": 0, "description": "Contact CSV: non-blank rows after the header."},
    "valid": {"type": "integer", "minimum": 0, "description": "Contact CSV: rows with an E.164 number."},
    "invalid": {"type": "integer", "minimum": 0, "description": "Contact CSV: rows with another number."},
    "duplicates": {
        "type": "integer",
        "minimum": 0,
        "description": "Contact CSV: valid rows repeating an earlier row's number (counted in `valid`, used once).",
    },
    "columns": {"type": "array", "items": {"type": "string"}, "description": "Contact CSV: the header's names."},
    "errors": {
        "type": "array",
        "maxItems": 100,
        "description": "Contact CSV: the first 100 rows whose number is not valid.",
        "items": {
            "type": "object",
            "required": ["row", "value", "reason"],
            "additionalProperties": False,
            "properties": {
                "row": {"type": "integer", "minimum": 1, "description": "The spreadsheet row (the header is row 1)."},
                "value": {"type": "string", "description": "The cell, cut to 64 characters."},
                "reason": {"type": "string"},
            },
        },
    },
}
# A contact CSV's import report is answered for every contact CSV (zeros until imported), never for media.
_CSV_REPORT_RULE: dict[str, Any] = {
    "if": {"properties": {"kind": {"const": "contacts_csv"}}},
    "then": {"required": _CSV_REPORT},
    "else": {"not": {"anyOf": [{"required": [field]} for field in _CSV_REPORT]}},
}
_INVALID_SCHEDULE = (
    "`invalid_schedule`: `send_time.at` is not an RFC 3339 time with an offset, not in the future, or more than a "
    "year ahead"
)


_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Message Campaigns",
        "version": "1.0.0",
        "summary": "Bulk SMS and MMS campaigns for a PBX, sent through Twilio.",
        "description": (
            "The REST API a PBX calls under `/v1` with `Authorization: Bearer <api key>` (each key is one tenant; "
            "another tenant's id answers `404`), and the provider webhooks under `/webhooks` (authenticated by the "
            "provider's signature). JSON in and out (`application/json; charset=utf-8`), times RFC 3339 in UTC, "
            "ids opaque strings, lists paged with `limit` (default 50, max 200) and `cursor`.\n\n"
            'Every error answers `{"error": {"code", "message", "details"}}` with a stable `code`. A 5xx is a '
            "bug (`500 internal_error`, logged).\n\n"
            "This document covers what this deployment implements: health, this document, channels, phonebooks, "
            "uploads (contact CSV files and MMS media), campaigns (create, list, read, edit, send, duplicate, retry, "
            "delete, recipients) and the Twilio webhooks. WhatsApp templates, sessions and opt-outs are not "
            "available yet.\n\n"
            "## Extensions to the contract (marked `x-extension: true`)\n"
            "- `result.read` and `result.skipped` in a campaign.\n"
            "- The channel's `webhooks` object: the URLs to configure at the provider.\n"
            "- `mps` defaults to 1 for `twilio` (80 for `whatsapp_cloud`); it must be above 0 and at most 1000 "
            "(`422 invalid_mps`).\n"
            "- A JSON body is at most 5 MB (5,242,880 bytes): `413 payload_too_large`. A missing Content-Type is "
            "taken as `application/json`.\n"
            "- A known path with a method it does not have: `405 method_not_allowed` with an `Allow` header.\n"
            "- `503 try_again`: a write kept losing a race (never expected); the request may be repeated.\n"
            "- `Idempotency-Key` on `POST /v1/campaigns`: a repeated create answers the first campaign "
            "(`Idempotent-Replayed: true`) instead of sending twice.\n"
            "- Campaign `status` values and the `status` filters (`400 invalid_request` for an unknown value).\n"
            "- A campaign answers `stop_reason` (why it is `stopped`), `audience_report` (what resolving its "
            "audience found) and, in single-campaign answers, `recipients` (its audience as given). Recipients "
            "are written when sending starts: until then `GET .../recipients` lists none and `result.total` "
            "(and `pending`) is the audience's size counted when the campaign was saved. A phonebook is read "
            "again when sending starts; if it is gone, or now has more recipients than allowed, or an upload's "
            "contacts are gone, the campaign ends `stopped` with `stop_reason.code` `phonebook_not_found`, "
            "`too_many_recipients` or `upload_not_found`.\n"
            "- A recipient's `variables`: its CSV columns (other than `Number`), or its phonebook contact's "
            "`name`.\n"
            "- `POST /v1/campaigns/{campaign_id}/retry` of a campaign that is not `completed` or `stopped`: "
            "`409 campaign_not_retryable`. A retry never resends to a number that opted out (Twilio error "
            "`21610`); a recipient's `attempts` counts its hand-overs to the provider.\n"
            "- Exactly once, when the provider's answer is lost (a timeout, a reset connection, a 5xx, a sender "
            "that died mid-call): the recipient stays `sending` (its `result` counts it `pending`, and the "
            "campaign does not complete) until the provider's status callback for that attempt settles it or, "
            "about 2 minutes later (the `SETTLE_SECONDS` setting, checked on the minute tick), the provider's own "
            "records do: found, it takes the provider's status and message id; provably absent, it is sent again "
            "as a new attempt, or after 3 attempts it is `failed` with the last error seen (`provider_timeout`, "
            "`provider_no_answer` or the provider's 5xx code, e.g. `20500`), which `retry` resends. Records that "
            "can't tell (unreadable, or holding another message to the number since the hand-over) are asked "
            "again on later ticks; after a day the recipient ends `failed` with `send_interrupted` (it may have "
            "gone out; `retry` does not resend it, a later provider report still settles it). Only a "
            "failure that provably happened before the request left (connection refused, DNS, TLS certificate) "
            "is tried again at once, as a new attempt (`provider_unreachable` after 3).\n"
            "- At most 10,000 typed `recipients.numbers` (`422 too_many_recipients`; larger lists go in a CSV "
            "upload); a `phonebook` cannot be combined with `numbers` or `upload_id` (`422 invalid_recipients`). "
            "An MMS on a Twilio channel must be at most 5 MB of media and text (`422 media_too_large`) of a "
            "content type Twilio accepts (`422 media_type_not_supported`); an upload a campaign names must be "
            "this tenant's, of the right kind and `ready` (`422 upload_not_found`, `upload_wrong_kind`, "
            "`upload_not_ready`, `upload_rejected`).\n"
            "- An upload answers `kind`, `filename`, `content_type`, `size`, `created_at`, `processed_at`, "
            "`error` (why it was rejected) and `stage` (`awaiting_file`, `importing`, `done`: what `processing` "
            "waits for). Any upload's filename is under 127 characters (`422 filename_too_long`), without "
            "slashes or control characters (`422 invalid_filename`); its `content_type` must be a media type, "
            "and one of a CSV's for a contact CSV (`422 invalid_content_type`). An inline CSV answers the "
            "import's outcome at once.\n"
            "- Twilio's status callback URL carries the recipient's attempt (`a`): a report about another "
            "attempt is ignored.\n"
            "- Features not available yet are refused with a clear `422`: `send_mode: session` "
            "(`unsupported_send_mode`; `routing_target` without it: `invalid_routing_target`); content of type "
            "`template` (`template_not_supported`); a channel of type `whatsapp` or provider `whatsapp_cloud` "
            "(`unsupported_channel`).\n"
            "- Ids in a body or path are at most 128 characters: a longer body id is `400 invalid_request`, a "
            "longer path id `404 not_found` (`403` on a webhook); a `cursor` is at most 512 characters.\n"
            "- Phonebook ids are the PBX's own, 1 to 128 characters of `A-Z a-z 0-9 . _ : ~ -`: `PUT` of another "
            "id is `400 invalid_request`, `GET` or `DELETE` of one `404 not_found`. A phonebook has at most 100,000 "
            "contacts; `PUT` answers `201` when it created the phonebook and `200` when it replaced it."
        ),
        "x-extension-codes": ["method_not_allowed", "try_again", "campaign_not_retryable"],
    },
    "servers": [{"url": "/"}],
    "tags": [
        {"name": "meta", "description": "Health and this document."},
        {"name": "channels", "description": "Provider accounts and their sender numbers."},
        {"name": "phonebooks", "description": "The PBX's phonebooks, pushed whole; a campaign may use one."},
        {"name": "uploads", "description": "Contact CSV files and MMS media, put straight into storage."},
        {"name": "campaigns", "description": "Bulk messages and their per-recipient outcome."},
        {"name": "webhooks", "description": "Called by the provider, authenticated by its signature."},
    ],
    "security": [{"bearer": []}],
    "paths": {
        "/v1/health": {
            "get": {
                "operationId": "health",
                "tags": ["meta"],
                "summary": "Liveness; needs no key.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The service answers.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Health"}}},
                    },
                },
            },
        },
        "/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["meta"],
                "summary": "This document.",
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document, with this deployment as its server.",
                        "content": {_JSON: {"schema": {"type": "object"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                },
            },
        },
        "/v1/channels": {
            "post": {
                "operationId": "createChannel",
                "tags": ["channels"],
                "summary": "Create a channel; its credentials go to the secret store and are never answered.",
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/ChannelIn"}}},
                },
                "responses": {
                    "201": {
                        "description": "The channel, with the webhook URLs to configure at the provider.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Channel"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "422": {
                        "description": (
                            "`unsupported_channel`: only type `sms` with provider `twilio` so far (x-extension); "
                            "`invalid_phone_number`: a sender is not a valid E.164 number (details list each, "
                            "`field` `senders.<index>`); `invalid_mps`: `mps` not above 0 and at most 1000; "
                            "`invalid_credentials`: credentials the provider could never accept (see `Credentials`; "
                            "details name each field, `credentials.account_sid` or `credentials.auth_token`, never "
                            "its value). Nothing is saved."
                        ),
                        "content": {
                            _JSON: {
                                "schema": {
                                    "allOf": [
                                        {"$ref": "#/components/schemas/Error"},
                                        {
                                            "properties": {
                                                "error": {
                                                    "properties": {
                                                        "code": {
                                                            "enum": [
                                                                "unsupported_channel",
                                                                "invalid_phone_number",
                                                                "invalid_mps",
                                                                "invalid_credentials",
                                                            ]
                                                        }
                                                    }
                                                }
                                            }
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
            "get": {
                "operationId": "listChannels",
                "tags": ["channels"],
                "summary": "The tenant's channels, oldest first.",
                "parameters": [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}],
                "responses": {
                    "200": {
                        "description": "A page of channels.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/ChannelList"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                },
            },
        },
        "/v1/channels/{channel_id}": {
            "parameters": [{"$ref": "#/components/parameters/channel_id"}],
            "get": {
                "operationId": "getChannel",
                "tags": ["channels"],
                "summary": "One channel.",
                "responses": {
                    "200": {
                        "description": "The channel.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Channel"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
            "patch": {
                "operationId": "updateChannel",
                "tags": ["channels"],
                "summary": "Change a channel's name, senders, mps or credentials (any of them; null leaves one as is).",
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/ChannelPatch"}}},
                },
                "responses": {
                    "200": {
                        "description": "The channel as changed.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Channel"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "422": {
                        "description": (
                            "`invalid_phone_number`: a sender is not a valid E.164 number; `invalid_mps`: `mps` not "
                            "above 0 and at most 1000; `invalid_credentials`: credentials the provider could never "
                            "accept (details name each field). Nothing is changed: not the channel, not the stored "
                            "credentials."
                        ),
                        "content": {
                            _JSON: {
                                "schema": {
                                    "allOf": [
                                        {"$ref": "#/components/schemas/Error"},
                                        {
                                            "properties": {
                                                "error": {
                                                    "properties": {
                                                        "code": {
                                                            "enum": [
                                                                "invalid_phone_number",
                                                                "invalid_mps",
                                                                "invalid_credentials",
                                                            ]
                                                        }
                                                    }
                                                }
                                            }
                                        },
                                    ]
                                }
                            }
                        },
                    },
                },
            },
            "delete": {
                "operationId": "deleteChannel",
                "tags": ["channels"],
                "summary": "Delete a channel (and its credentials) that no unfinished campaign uses.",
                "responses": {
                    "204": {"description": "Deleted."},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "409": {
                        "description": (
                            "`channel_in_use`: campaigns that are not `completed` or `stopped` use the channel "
                            "(details list up to 20 `campaign_id`s)."
                        ),
                        "content": {
                            _JSON: {
                                "schema": {
                                    "allOf": [
                                        {"$ref": "#/components/schemas/Error"},
                                        {
                                            "properties": {
                                                "error": {"properties": {"code": {"enum": ["channel_in_use"]}}}
                                            }
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
        },
        "/v1/phonebooks": {
            "get": {
                "operationId": "listPhonebooks",
                "tags": ["phonebooks"],
                "summary": "The tenant's phonebooks, by id, without their contacts.",
                "parameters": [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}],
                "responses": {
                    "200": {
                        "description": "A page of phonebooks.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/PhonebookList"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                },
            },
        },
        "/v1/phonebooks/{phonebook_id}": {
            "parameters": [{"$ref": "#/components/parameters/phonebook_id"}],
            "put": {
                "operationId": "putPhonebook",
                "tags": ["phonebooks"],
                "summary": "Create or replace a whole phonebook under the PBX's own id.",
                "description": (
                    "The contacts given replace all the stored ones at once: a reader sees the old phonebook or the "
                    "new one, never a mix. Nothing is stored when the request is refused."
                ),
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/PhonebookIn"}}},
                },
                "responses": {
                    "200": {
                        "description": "Replaced: the phonebook as stored, with its contacts.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Phonebook"}}},
                    },
                    "201": {
                        "description": "Created: the phonebook as stored, with its contacts.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Phonebook"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "422": {
                        "description": (
                            "`invalid_phone_number`: numbers that are not valid E.164 (details list the first 100 as "
                            "`{field: contacts.<index>.numbers.<type>, value, reason}`); nothing is stored."
                        ),
                        "content": {
                            _JSON: {
                                "schema": {
                                    "allOf": [
                                        {"$ref": "#/components/schemas/Error"},
                                        {
                                            "properties": {
                                                "error": {"properties": {"code": {"enum": ["invalid_phone_number"]}}}
                                            }
                                        },
                                    ]
                                }
                            }
                        },
                    },
                },
            },
            "get": {
                "operationId": "getPhonebook",
                "tags": ["phonebooks"],
                "summary": "One phonebook with its contacts.",
                "responses": {
                    "200": {
                        "description": "The phonebook.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Phonebook"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
            "delete": {
                "operationId": "deletePhonebook",
                "tags": ["phonebooks"],
                "summary": "Delete a phonebook and its contacts.",
                "description": (
                    "Allowed even while a draft or scheduled campaign names it (that campaign finds the phonebook "
                    "missing when it starts)."
                ),
                "responses": {
                    "204": {"description": "Deleted."},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
        },
        "/v1/campaigns": {
            "post": {
                "operationId": "createCampaign",
                "tags": ["campaigns"],
                "summary": "Create a campaign: it sends now (or waits, `pending`), is scheduled, or is a draft.",
                "parameters": [{"$ref": "#/components/parameters/idempotency_key"}],
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/CampaignIn"}}},
                },
                "responses": {
                    "201": {
                        "description": (
                            "The campaign: `executing` or `pending`, `scheduled`, or `draft`. A request repeated "
                            "with the same `Idempotency-Key` answers the campaign the first one created, with the "
                            "header `Idempotent-Replayed: true` (x-extension)."
                        ),
                        "headers": {
                            "Idempotent-Replayed": {
                                "description": "`true` when this answer replays an earlier request (x-extension).",
                                "schema": {"type": "string", "enum": ["true"]},
                            }
                        },
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Campaign"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "409": {
                        "description": (
                            "`campaign_limit_reached`: the tenant has the most campaigns allowed (1,000 by default; "
                            "deleting one frees a place); `channel_not_found`: the channel was deleted while the "
                            "campaign was being created; `request_in_progress`: the first request with this "
                            "`Idempotency-Key` is still being processed (x-extension)."
                        ),
                        "content": {
                            _JSON: {
                                "schema": {
                                    "allOf": [
                                        {"$ref": "#/components/schemas/Error"},
                                        {
                                            "properties": {
                                                "error": {
                                                    "properties": {
                                                        "code": {
                                                            "enum": [
                                                                "campaign_limit_reached",
                                                                "channel_not_found",
                                                                "request_in_progress",
                                                            ]
                                                        }
                                                    }
                                                }
                                            }
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "422": _error(
                        "Checked in this order. "
                        + _SETTINGS_CHECKS
                        + " Then "
                        + _INVALID_SCHEDULE
                        + "; `idempotency_key_reused`: the `Idempotency-Key` came with a different request before "
                        "(x-extension).",
                        *_SETTINGS_CODES,
                        "invalid_schedule",
                        "idempotency_key_reused",
                    ),
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
            "get": {
                "operationId": "listCampaigns",
                "tags": ["campaigns"],
                "summary": "The tenant's campaigns, newest first, optionally of one status.",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "description": "Only campaigns with this status (another value: `400 invalid_request`).",
                        "schema": {"$ref": "#/components/schemas/CampaignStatus"},
                        "x-extension": True,
                    },
                    {"$ref": "#/components/parameters/limit"},
                    {"$ref": "#/components/parameters/cursor"},
                ],
                "responses": {
                    "200": {
                        "description": "A page of campaigns.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/CampaignList"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                },
            },
        },
        "/v1/campaigns/{campaign_id}": {
            "parameters": [{"$ref": "#/components/parameters/campaign_id"}],
            "get": {
                "operationId": "getCampaign",
                "tags": ["campaigns"],
                "summary": "One campaign with its live result figures.",
                "responses": {
                    "200": {
                        "description": "The campaign.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Campaign"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
            "patch": {
                "operationId": "updateCampaign",
                "tags": ["campaigns"],
                "summary": "Edit a draft: the fields given replace the stored ones; every setting is checked again.",
                "description": (
                    "Drafts only. An absent field is left as it is; `recipients` and `content` are replaced whole. "
                    "The campaign's settings as changed pass the same checks as a create (a draft whose channel, "
                    "upload or phonebook has gone since is refused until it is fixed). `send_time` is not a field "
                    "here (`400 invalid_request`): a draft goes out with `POST .../send`."
                ),
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/CampaignPatch"}}},
                },
                "responses": {
                    "200": {
                        "description": "The draft as changed.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Campaign"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "409": _error(
                        "`campaign_not_editable`: the campaign is not a `draft` (details give its `status`).",
                        "campaign_not_editable",
                    ),
                    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "422": _error("As on create, checked in this order. " + _SETTINGS_CHECKS, *_SETTINGS_CODES),
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
            "delete": {
                "operationId": "deleteCampaign",
                "tags": ["campaigns"],
                "summary": "Delete a campaign that is not sending, with its recipients; frees its place in the limit.",
                "description": (
                    "A `scheduled` campaign's start schedule is removed; a `pending` one leaves the tenant's queue "
                    "(the campaigns behind it move up). The tenant may then create another campaign in its place."
                ),
                "responses": {
                    "204": {"description": "Deleted."},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "409": _error(
                        "`campaign_busy`: the campaign is `executing` or `retrying`; it can be deleted once it has "
                        "finished.",
                        "campaign_busy",
                    ),
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
        },
        "/v1/campaigns/{campaign_id}/send": {
            "parameters": [{"$ref": "#/components/parameters/campaign_id"}],
            "post": {
                "operationId": "sendCampaign",
                "tags": ["campaigns"],
                "summary": "Send a draft now, or schedule it.",
                "description": (
                    "Drafts only. Every setting is checked again, as on create. `now`: the campaign is `executing`, "
                    "or `pending` while another campaign of the tenant is sending; `scheduled`: it starts at "
                    "`scheduled_at`."
                ),
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/SendIn"}}},
                },
                "responses": {
                    "200": {
                        "description": "The campaign: `executing`, `pending` or `scheduled`.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Campaign"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "409": _error(
                        "`campaign_not_editable`: the campaign is not a `draft` (details give its `status`).",
                        "campaign_not_editable",
                    ),
                    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "422": _error(
                        "As on create, checked in this order. " + _SETTINGS_CHECKS + " Then " + _INVALID_SCHEDULE + ".",
                        *_SETTINGS_CODES,
                        "invalid_schedule",
                    ),
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
        },
        "/v1/campaigns/{campaign_id}/duplicate": {
            "parameters": [{"$ref": "#/components/parameters/campaign_id"}],
            "post": {
                "operationId": "duplicateCampaign",
                "tags": ["campaigns"],
                "summary": "A new draft with the same settings and recipients.",
                "description": (
                    "Any campaign can be duplicated, whatever its status. The copy is a `draft` named like the "
                    "original with ` (copy)` appended (the same name when that would be over 200 characters), with "
                    "the same channel, sender, content, send mode and recipients as given (a phonebook or upload is "
                    "resolved again when the copy is sent). The settings are not checked again until it is edited "
                    "or sent. A body is not needed and is ignored."
                ),
                "responses": {
                    "201": {
                        "description": "The new draft.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Campaign"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "409": _error(
                        "`campaign_limit_reached`: the tenant has the most campaigns allowed (1,000 by default; "
                        "deleting one frees a place); `channel_not_found`: the campaign's channel has been deleted.",
                        "campaign_limit_reached",
                        "channel_not_found",
                    ),
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
        },
        "/v1/campaigns/{campaign_id}/retry": {
            "parameters": [{"$ref": "#/components/parameters/campaign_id"}],
            "post": {
                "operationId": "retryCampaign",
                "tags": ["campaigns"],
                "summary": "Resend the failed messages of a `completed` or `stopped` campaign.",
                "description": (
                    "Resends to the recipients whose status is `failed` or `undelivered`, except those whose error is "
                    "`21610` (the number opted out) or `send_interrupted` (the message may have gone out: a "
                    "hand-over the provider's records could not settle within a day), and "
                    "finishes the sending of recipients still `queued` (a `stopped` campaign). A campaign stopped "
                    "before its recipients were written starts again. The status becomes `retrying`, or `pending` "
                    "while another campaign of the tenant is sending; `stop_reason` and `completed_at` are cleared "
                    "and `started_at` becomes the retry's start when it starts. Each resend counts in the "
                    "recipient's `attempts`. A body is not needed and is ignored."
                ),
                "responses": {
                    "200": {
                        "description": "The campaign: `retrying` or `pending`.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Campaign"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "409": _error(
                        "`campaign_not_retryable`: the campaign is not `completed` or `stopped` (details give its "
                        "`status`; x-extension); `nothing_to_retry`: no message failed in a way worth resending; "
                        "`campaign_busy`: the campaign changed status while the retry started (read it again).",
                        "campaign_not_retryable",
                        "nothing_to_retry",
                        "campaign_busy",
                    ),
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "503": {"$ref": "#/components/responses/TryAgain"},
                },
            },
        },
        "/v1/campaigns/{campaign_id}/recipients": {
            "parameters": [{"$ref": "#/components/parameters/campaign_id"}],
            "get": {
                "operationId": "listRecipients",
                "tags": ["campaigns"],
                "summary": "A campaign's recipients: typed numbers first, then the upload's or phonebook's.",
                "description": (
                    "Recipients are written when sending starts (the phonebook or upload resolved then, duplicates "
                    "removed): a `draft` or `scheduled` campaign, or a `pending` one not started yet, lists none."
                ),
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "description": "Only recipients with this status (another value: `400 invalid_request`).",
                        "schema": {"$ref": "#/components/schemas/RecipientStatus"},
                    },
                    {"$ref": "#/components/parameters/limit"},
                    {"$ref": "#/components/parameters/cursor"},
                ],
                "responses": {
                    "200": {
                        "description": "A page of recipients.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/RecipientList"}}},
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
        },
        "/v1/uploads": {
            "post": {
                "operationId": "createUpload",
                "tags": ["uploads"],
                "summary": "Announce a file and get a URL to PUT it to; or send a small contact CSV inline.",
                "description": (
                    "JSON (`UploadIn`): the answer's `upload_url` takes the file with one HTTP `PUT` of exactly "
                    "`size` bytes and the `upload_headers`, before `expires_at` (an hour); the file never passes "
                    "through the API. The upload is then processed (a contact CSV imported, media checked): "
                    "`GET /v1/uploads/{upload_id}` shows how that went. Processing happens once: media is kept as "
                    "it was when checked, and another `PUT` to the URL afterwards changes neither the upload nor "
                    "what a campaign sends.\n\n"
                    "Inline: a contact CSV of at most 5 MB as the body with `Content-Type: text/csv` and the query "
                    "parameters `kind=contacts_csv` and `filename`; it is imported before the answer, which shows "
                    "the outcome (`ready` or `rejected`; a rejected file is not an HTTP error).\n\n"
                    "A contact CSV: UTF-8 (a BOM is allowed), comma, semicolon or tab separated, a header row with a "
                    "`Number` column (any case); the other columns are kept as each contact's `variables`. Every "
                    "number must be E.164: a file with any other number is rejected, listing the rows to fix."
                ),
                "parameters": [
                    {
                        "name": "kind",
                        "in": "query",
                        "required": False,
                        "description": "Inline only: `contacts_csv` (the default); another value is `400`.",
                        "schema": {"type": "string", "const": "contacts_csv"},
                    },
                    {
                        "name": "filename",
                        "in": "query",
                        "required": False,
                        "description": "Inline only, and required there (else `400 invalid_request`).",
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {"schema": {"$ref": "#/components/schemas/UploadIn"}},
                        "text/csv": {
                            "schema": {"type": "string", "maxLength": 5242880},
                            "example": "Number,first_name\n+41415084545,Anna\n",
                        },
                    },
                },
                "responses": {
                    "201": {
                        "description": (
                            "JSON: the upload, `processing` at stage `awaiting_file`, with where to PUT the file. "
                            "Inline: the upload as imported, `ready` or `rejected` (stage `done`)."
                        ),
                        "content": {
                            _JSON: {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/UploadTicket"},
                                        {"$ref": "#/components/schemas/Upload"},
                                    ]
                                }
                            }
                        },
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "413": _error(
                        "`payload_too_large`: the announced `size` is over 50 MB (52,428,800 bytes) for a contact CSV "
                        "or 100 MB (104,857,600 bytes) for media, or an inline CSV is over 5 MB (5,242,880 bytes); "
                        "details give `size` and `max`.",
                        "payload_too_large",
                    ),
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                    "422": _error(
                        "`invalid_filename`: blank, or with a slash, a backslash or a control character; "
                        "`filename_too_long`: 127 characters or more; `invalid_content_type`: not a media type "
                        "(`type/subtype`), or for a contact CSV not one of `text/csv`, `text/plain`, "
                        "`application/csv`, `application/vnd.ms-excel`, `text/x-csv`. Checked in this order, the "
                        "size (`413`) between the filename and the content type.",
                        "invalid_filename",
                        "filename_too_long",
                        "invalid_content_type",
                    ),
                },
            },
        },
        "/v1/uploads/{upload_id}": {
            "parameters": [{"$ref": "#/components/parameters/upload_id"}],
            "get": {
                "operationId": "getUpload",
                "tags": ["uploads"],
                "summary": "An upload and how its processing went.",
                "description": (
                    "An upload whose URL expired (with a minute's grace) with no file put to it is `rejected` with "
                    "`error.code` `upload_expired`."
                ),
                "responses": {
                    "200": {
                        "description": "The upload.",
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Upload"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
        },
        "/webhooks/twilio/{channel_id}/status": {
            "parameters": [{"$ref": "#/components/parameters/webhook_channel_id"}],
            "post": {
                "operationId": "twilioStatusCallback",
                "tags": ["webhooks"],
                "summary": "Twilio's status callback for one message.",
                "description": (
                    "Recorded forward only: a replayed or late report never moves a recipient backwards and never "
                    "counts twice. Reports for unknown recipients or statuses with nothing to record are accepted "
                    "and ignored."
                ),
                "security": [{"twilioSignature": []}],
                "parameters": [
                    {
                        "name": "c",
                        "in": "query",
                        "required": False,
                        "description": "The campaign id, set by the service in the callback URL it gives Twilio.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "r",
                        "in": "query",
                        "required": False,
                        "description": "The recipient's index, set by the service in the callback URL.",
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    },
                    {
                        "name": "a",
                        "in": "query",
                        "required": False,
                        "description": (
                            "The recipient's attempt (1 for the first send, one more for each resend), set by the "
                            "service in the callback URL; a report about another attempt than the recipient's "
                            "latest is accepted and ignored (a late report about a message a retry replaced)."
                        ),
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                        "x-extension": True,
                    },
                    {
                        "name": "s",
                        "in": "query",
                        "required": False,
                        "description": (
                            "The recipient's counter shard, set by the service in the callback URL, so the common "
                            "report (a sent message delivered) is recorded in one conditional write."
                        ),
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                        "x-extension": True,
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"$ref": "#/components/schemas/TwilioStatusForm"},
                        },
                    },
                },
                "responses": {
                    "204": {"description": "Accepted (recorded, or nothing to record)."},
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "403": {"$ref": "#/components/responses/InvalidSignature"},
                    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                },
            },
        },
        "/webhooks/twilio/{channel_id}/inbound": {
            "parameters": [{"$ref": "#/components/parameters/webhook_channel_id"}],
            "post": {
                "operationId": "twilioInbound",
                "tags": ["webhooks"],
                "summary": "An incoming message to one of the channel's senders; kept, no automatic reply.",
                "security": [{"twilioSignature": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"$ref": "#/components/schemas/TwilioInboundForm"},
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "An empty TwiML answer: no automatic reply.",
                        "content": {
                            "text/xml": {
                                "schema": {"type": "string"},
                                "example": '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
                            },
                        },
                    },
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "403": {"$ref": "#/components/responses/InvalidSignature"},
                    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
                },
            },
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "The tenant's API key: `Authorization: Bearer <api key>`. Missing or wrong: `401`.",
            },
            "twilioSignature": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Twilio-Signature",
                "description": (
                    "Twilio's HMAC-SHA1 signature of the full URL (with its query) and the form fields, keyed by "
                    "the channel's auth token. Missing or wrong, or an unknown channel: `403 invalid_signature`, "
                    "and nothing changes."
                ),
            },
        },
        "parameters": {
            "idempotency_key": {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "x-extension": True,
                "description": (
                    "Any unique string per intended campaign (1 to 255 printable ASCII characters, no spaces). A "
                    "retry with the same key and the same body answers the campaign the first request created "
                    "instead of creating (and sending) another; the same key with another body is "
                    "`422 idempotency_key_reused`. Keys are remembered for 24 hours, per tenant; a request refused "
                    "with 4xx does not use up its key."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
            },
            "limit": {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "Page size, a whole number from 1 to 200 (else `400 invalid_request`).",
                "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            },
            "cursor": {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": (
                    "The `next_cursor` of the previous page; one that is not (or not from this listing) is "
                    "`400 invalid_request`."
                ),
                "schema": {"type": "string", "maxLength": 512},
            },
            "channel_id": {
                "name": "channel_id",
                "in": "path",
                "required": True,
                "description": "A channel id; another tenant's, or an unknown one, is `404 not_found`.",
                "schema": {"type": "string", "maxLength": 128},
            },
            "campaign_id": {
                "name": "campaign_id",
                "in": "path",
                "required": True,
                "description": "A campaign id; another tenant's, or an unknown one, is `404 not_found`.",
                "schema": {"type": "string", "maxLength": 128},
            },
            "phonebook_id": {
                "name": "phonebook_id",
                "in": "path",
                "required": True,
                "description": (
                    "The PBX's own phonebook id, 1 to 128 characters of `A-Z a-z 0-9 . _ : ~ -`: another id is "
                    "`400 invalid_request` on `PUT`, `404 not_found` otherwise. Another tenant's, or an unknown one, "
                    "is `404 not_found`."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._:~-]+$"},
            },
            "upload_id": {
                "name": "upload_id",
                "in": "path",
                "required": True,
                "description": "An upload id; another tenant's, or an unknown one, is `404 not_found`.",
                "schema": {"type": "string", "maxLength": 128},
            },
            "webhook_channel_id": {
                "name": "channel_id",
                "in": "path",
                "required": True,
                "description": "The channel whose provider calls; an unknown one is `403 invalid_signature`.",
                "schema": {"type": "string", "maxLength": 128},
            },
        },
        "responses": {
            "BadRequest": {
                "description": (
                    "`invalid_request`: malformed JSON (or NaN, Infinity, a number out of range, an unpaired "
                    "surrogate escape), not an object, an empty body, wrong types, unknown fields, bad `limit`, "
                    "`cursor` or `status`; on a webhook, a form body that is not UTF-8, once its signature is good "
                    "(the signature is checked first: an unsigned one is `403`). `details` lists each problem as "
                    "`{field, message, type}`."
                ),
                "content": {
                    _JSON: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {"properties": {"error": {"properties": {"code": {"enum": ["invalid_request"]}}}}},
                            ]
                        }
                    }
                },
            },
            "Unauthorized": {
                "description": "`unauthorized`: no Authorization header, not `Bearer <api key>`, or an unknown key.",
                "content": {
                    _JSON: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {"properties": {"error": {"properties": {"code": {"enum": ["unauthorized"]}}}}},
                            ]
                        }
                    }
                },
            },
            "InvalidSignature": {
                "description": (
                    "`invalid_signature`: no, or a wrong, `X-Twilio-Signature`, or an unknown channel, whatever "
                    "the body (one that is not UTF-8 included: the signature is checked before the body is judged)."
                ),
                "content": {
                    _JSON: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {"properties": {"error": {"properties": {"code": {"enum": ["invalid_signature"]}}}}},
                            ]
                        }
                    }
                },
            },
            "NotFound": {
                "description": "`not_found`: no such resource for this tenant (another tenant's id included).",
                "content": {
                    _JSON: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {"properties": {"error": {"properties": {"code": {"enum": ["not_found"]}}}}},
                            ]
                        }
                    }
                },
            },
            "MethodNotAllowed": {
                "description": (
                    "`method_not_allowed`: the path exists but not with this method; the `Allow` header lists its "
                    "methods."
                ),
                "headers": {"Allow": {"schema": {"type": "string"}, "description": "The path's methods."}},
                "content": {
                    _JSON: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {"properties": {"error": {"properties": {"code": {"enum": ["method_not_allowed"]}}}}},
                            ]
                        }
                    }
                },
                "x-extension": True,
            },
            "PayloadTooLarge": {
                "description": (
                    "`payload_too_large`: the body is over 5 MB (5,242,880 bytes); details give `size` and `max`."
                ),
                "content": {
                    _JSON: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {"properties": {"error": {"properties": {"code": {"enum": ["payload_too_large"]}}}}},
                            ]
                        }
                    }
                },
                "x-extension": True,
            },
            "UnsupportedMediaType": {
                "description": (
                    "`unsupported_media_type`: the Content-Type is not one this operation takes "
                    "(`application/json`; also `text/csv` on `POST /v1/uploads`; "
                    "`application/x-www-form-urlencoded` on a webhook; on `duplicate` and `retry`, which need no "
                    "body, any of `application/json`, `application/x-www-form-urlencoded`, `text/plain`, "
                    "`text/csv`, `multipart/form-data` or `application/octet-stream`)."
                ),
                "content": {
                    _JSON: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {
                                    "properties": {
                                        "error": {"properties": {"code": {"enum": ["unsupported_media_type"]}}}
                                    }
                                },
                            ]
                        }
                    }
                },
            },
            "TryAgain": {
                "description": (
                    "`try_again`: a conditional write kept losing its race (never expected); nothing was "
                    "half-done and the request may be repeated."
                ),
                "content": {
                    _JSON: {
                        "schema": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Error"},
                                {"properties": {"error": {"properties": {"code": {"enum": ["try_again"]}}}}},
                            ]
                        }
                    }
                },
                "x-extension": True,
            },
        },
        "schemas": {
            # ------------------------------------------------------------------------------------ errors, meta
            "Error": {
                "type": "object",
                "description": "Every error answer.",
                "required": ["error"],
                "additionalProperties": False,
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message", "details"],
                        "additionalProperties": False,
                        "properties": {
                            "code": {
                                "type": "string",
                                "pattern": "^[a-z][a-z0-9_]*$",
                                "description": "Stable and machine-readable, e.g. `invalid_phone_number`.",
                            },
                            "message": {"type": "string", "minLength": 1, "description": "A human sentence."},
                            "details": {
                                "type": "array",
                                "items": {},
                                "description": "What the code is about, e.g. `{field, ...}` per problem; may be empty.",
                            },
                        },
                    },
                },
            },
            "Health": {
                "type": "object",
                "required": ["status"],
                "additionalProperties": False,
                "properties": {"status": {"const": "ok"}},
            },
            # ------------------------------------------------------------------------------ request: channels
            "Credentials": {
                "type": "object",
                "description": "Twilio account credentials; write-only, kept in the secret store, never answered.",
                "writeOnly": True,
                "required": ["account_sid", "auth_token"],
                "additionalProperties": False,
                "properties": {
                    "account_sid": {
                        "type": "string",
                        "pattern": "^AC[0-9a-fA-F]{32}$",
                        "description": (
                            "The Twilio Account SID: `AC` and 32 hexadecimal digits (Twilio issues them in lower "
                            "case; upper case is accepted too, as in Twilio's own API reference). Any other string "
                            "is `422 invalid_credentials` with `field` `credentials.account_sid`."
                        ),
                    },
                    "auth_token": {
                        "type": "string",
                        "pattern": "^[!-~]{1,256}$",
                        "description": (
                            "The account's auth token: 1 to 256 printable ASCII characters without spaces (what an "
                            "HTTP header can carry; Twilio's are 32 hexadecimal digits). Anything else, such as a "
                            "space, a control character or a non-ASCII letter, is `422 invalid_credentials` with "
                            "`field` `credentials.auth_token`."
                        ),
                    },
                },
            },
            "ChannelIn": {
                "type": "object",
                "description": "POST /v1/channels.",
                "required": ["name", "type", "provider", "senders", "credentials"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "type": {
                        "type": "string",
                        "enum": ["sms", "whatsapp"],
                        "description": "`whatsapp` is not available yet: `422 unsupported_channel`.",
                        "x-extension": True,
                    },
                    "provider": {
                        "type": "string",
                        "enum": ["twilio", "whatsapp_cloud"],
                        "description": "`whatsapp_cloud` is not available yet: `422 unsupported_channel`.",
                        "x-extension": True,
                    },
                    "senders": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 100,
                        "items": {"type": "string"},
                        "description": "E.164 numbers (else `422 invalid_phone_number`); duplicates are dropped.",
                    },
                    "credentials": {"$ref": "#/components/schemas/Credentials"},
                    "mps": {
                        "anyOf": [{"type": "number"}, {"type": "null"}],
                        "default": None,
                        "description": (
                            "Messages per second per sender, above 0 and at most 1000 (else `422 invalid_mps`). "
                            "Absent or null: 1 for `twilio` (a long code's rate), 80 for `whatsapp_cloud`."
                        ),
                        "x-extension": True,
                    },
                },
            },
            "ChannelPatch": {
                "type": "object",
                "description": "PATCH /v1/channels/{channel_id}: any of these; absent or null leaves a field as it is.",
                "additionalProperties": False,
                "properties": {
                    "name": {
                        "anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "null"}],
                        "default": None,
                    },
                    "senders": {
                        "anyOf": [
                            {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string"}},
                            {"type": "null"},
                        ],
                        "default": None,
                        "description": "Replaces the senders; E.164 numbers (else `422 invalid_phone_number`).",
                    },
                    "credentials": {
                        "anyOf": [{"$ref": "#/components/schemas/Credentials"}, {"type": "null"}],
                        "default": None,
                    },
                    "mps": {
                        "anyOf": [{"type": "number"}, {"type": "null"}],
                        "default": None,
                        "description": "Above 0 and at most 1000 (else `422 invalid_mps`).",
                    },
                },
            },
            # ---------------------------------------------------------------------------- request: phonebooks
            "PhonebookNumbers": {
                "type": "object",
                "description": (
                    "A contact's numbers by type, each a valid E.164 number (else `422 invalid_phone_number`); an "
                    "absent or null type is no number of that type. Another type is `400 invalid_request`."
                ),
                "additionalProperties": False,
                "properties": {
                    "business": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "business2": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "mobile": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "mobile2": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "home": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "home2": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "other": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                },
            },
            "PhonebookContact": {
                "type": "object",
                "description": (
                    "One contact. As answered: `name` only when it has one, `numbers` only the types it has."
                ),
                "additionalProperties": False,
                "properties": {
                    "name": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}], "default": None},
                    "numbers": {"$ref": "#/components/schemas/PhonebookNumbers"},
                },
            },
            "PhonebookIn": {
                "type": "object",
                "description": "PUT /v1/phonebooks/{phonebook_id}: the whole phonebook, replacing the stored one.",
                "required": ["name", "contacts"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "contacts": {
                        "type": "array",
                        "maxItems": 100000,
                        "items": {"$ref": "#/components/schemas/PhonebookContact"},
                        "description": "In the PBX's order, which campaigns keep; may be empty.",
                    },
                },
            },
            # ----------------------------------------------------------------------------- request: campaigns
            "PhonebookRef": {
                "type": "object",
                "description": "A phonebook and the number type to take from it.",
                "required": ["id", "number_type"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "maxLength": 128},
                    "number_type": {
                        "type": "string",
                        "enum": ["business", "business2", "mobile", "mobile2", "home", "home2", "other"],
                    },
                },
            },
            "Recipients": {
                "type": "object",
                "description": "Who gets the campaign.",
                "additionalProperties": False,
                "properties": {
                    "numbers": {
                        "anyOf": [{"type": "array", "maxItems": 100000, "items": {}}, {"type": "null"}],
                        "default": None,
                        "description": (
                            "E.164 numbers, deduplicated. Any entry that is not a valid E.164 string fails the "
                            "whole request with `422 invalid_phone_number` listing the offenders. At most 10,000 "
                            "(`422 too_many_recipients`; x-extension): larger lists go in a CSV upload."
                        ),
                    },
                    "upload_id": {
                        "anyOf": [{"type": "string", "maxLength": 128}, {"type": "null"}],
                        "default": None,
                        "description": (
                            "A `contacts_csv` upload that is `ready` (else `422 upload_not_found`, "
                            "`upload_wrong_kind`, `upload_not_ready` or `upload_rejected`); its contacts come after "
                            "the typed numbers, those repeating one left out. Its columns become each recipient's "
                            "`variables`."
                        ),
                    },
                    "phonebook": {
                        "anyOf": [{"$ref": "#/components/schemas/PhonebookRef"}, {"type": "null"}],
                        "default": None,
                        "description": (
                            "The phonebook's contacts that have a number of `number_type`, in the phonebook's order "
                            "(duplicates removed), each with its `name` as a variable. Not with `numbers` or "
                            "`upload_id` (`422 invalid_recipients`); no such phonebook: `422 phonebook_not_found`; "
                            "no contact with such a number: `422 no_recipients`. It is read again when sending "
                            "starts."
                        ),
                    },
                },
            },
            "ColumnRef": {
                "type": "object",
                "description": "A template variable taken from a CSV column.",
                "required": ["column"],
                "additionalProperties": False,
                "properties": {"column": {"type": "string"}},
            },
            "TextContent": {
                "type": "object",
                "description": "An SMS: up to 1,600 characters, emoji allowed, not blank.",
                "required": ["type", "text"],
                "additionalProperties": False,
                "properties": {"type": {"type": "string", "const": "text"}, "text": {"type": "string"}},
            },
            "FileContent": {
                "type": "object",
                "description": (
                    "An MMS: a `media` upload that is `ready` (else `422 upload_not_found`, `upload_wrong_kind`, "
                    "`upload_not_ready` or `upload_rejected`) and an optional text of up to 1,600 characters "
                    "(`422 content_too_long`). On a Twilio channel, media and text together at most 5 MB "
                    "(5,242,880 bytes; `422 media_too_large`) and a content type Twilio accepts in an MMS "
                    "(images, audio, video, vCard, PDF and a few others; `422 media_type_not_supported`). Sent as one "
                    "message (`segments` 1). What is sent is the file as it was when its upload was processed, "
                    "the one these checks describe."
                ),
                "required": ["type", "upload_id"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "const": "file"},
                    "upload_id": {"type": "string", "maxLength": 128},
                    "text": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                },
            },
            "TemplateContent": {
                "type": "object",
                "description": "A WhatsApp template. Needs a WhatsApp channel: `422 template_not_supported` for now.",
                "required": ["type", "template_id"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "const": "template"},
                    "template_id": {"type": "string", "maxLength": 128},
                    "variables": {
                        "type": "object",
                        "additionalProperties": {
                            "anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/ColumnRef"}],
                        },
                        "default": {},
                    },
                },
                "x-extension": True,
            },
            "Content": {
                "oneOf": [
                    {"$ref": "#/components/schemas/TextContent"},
                    {"$ref": "#/components/schemas/FileContent"},
                    {"$ref": "#/components/schemas/TemplateContent"},
                ],
                "discriminator": {
                    "propertyName": "type",
                    "mapping": {
                        "text": "#/components/schemas/TextContent",
                        "file": "#/components/schemas/FileContent",
                        "template": "#/components/schemas/TemplateContent",
                    },
                },
            },
            "SendNow": {
                "type": "object",
                "description": "Send at once.",
                "required": ["type"],
                "additionalProperties": False,
                "properties": {"type": {"type": "string", "const": "now"}},
            },
            "SendScheduled": {
                "type": "object",
                "description": "Send at a time.",
                "required": ["type", "at"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "const": "scheduled"},
                    "at": {
                        "type": "string",
                        "description": (
                            "RFC 3339 with any offset, e.g. `2026-12-01T09:00:00+01:00`; in the future and within a "
                            "year (else `422 invalid_schedule`); stored and answered in UTC."
                        ),
                    },
                },
            },
            "SendDraft": {
                "type": "object",
                "description": "Keep as a draft.",
                "required": ["type"],
                "additionalProperties": False,
                "properties": {"type": {"type": "string", "const": "draft"}},
            },
            "SendTime": {
                "oneOf": [
                    {"$ref": "#/components/schemas/SendNow"},
                    {"$ref": "#/components/schemas/SendScheduled"},
                    {"$ref": "#/components/schemas/SendDraft"},
                ],
                "discriminator": {
                    "propertyName": "type",
                    "mapping": {
                        "now": "#/components/schemas/SendNow",
                        "scheduled": "#/components/schemas/SendScheduled",
                        "draft": "#/components/schemas/SendDraft",
                    },
                },
            },
            "RoutingTarget": {
                "type": "object",
                "description": "Where reply sessions go.",
                "required": ["type", "id"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "enum": ["extension", "queue"]},
                    "id": {"type": "string", "minLength": 1, "maxLength": 64},
                },
            },
            "CampaignIn": {
                "type": "object",
                "description": "POST /v1/campaigns.",
                "required": ["name", "channel_id", "sender", "recipients", "content", "send_time"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "channel_id": {"type": "string", "maxLength": 128},
                    "sender": {"type": "string", "description": "One of the channel's senders."},
                    "recipients": {"$ref": "#/components/schemas/Recipients"},
                    "content": {"$ref": "#/components/schemas/Content"},
                    "send_time": {"$ref": "#/components/schemas/SendTime"},
                    "send_mode": {
                        "type": "string",
                        "enum": ["direct", "session"],
                        "default": "direct",
                        "description": "`session` is not available yet: `422 unsupported_send_mode`.",
                        "x-extension": True,
                    },
                    "routing_target": {
                        "anyOf": [{"$ref": "#/components/schemas/RoutingTarget"}, {"type": "null"}],
                        "default": None,
                        "description": "Only with `send_mode` `session` (else `422 invalid_routing_target`).",
                    },
                },
            },
            "CampaignPatch": {
                "type": "object",
                "description": (
                    "PATCH /v1/campaigns/{campaign_id} (drafts only): any of a campaign's settings; an absent field "
                    "is left as it is. A null `routing_target` is none; null for another field is "
                    "`400 invalid_request` (it cannot be left out of a campaign). `send_time` is not one of them: a "
                    "draft goes out with `POST .../send`."
                ),
                "additionalProperties": False,
                "properties": {
                    "name": {
                        "anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "null"}],
                        "default": None,
                    },
                    "channel_id": {"anyOf": [{"type": "string", "maxLength": 128}, {"type": "null"}], "default": None},
                    "sender": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "recipients": {
                        "anyOf": [{"$ref": "#/components/schemas/Recipients"}, {"type": "null"}],
                        "default": None,
                        "description": "Replaces the recipients whole.",
                    },
                    "content": {
                        "anyOf": [{"$ref": "#/components/schemas/Content"}, {"type": "null"}],
                        "default": None,
                        "description": "Replaces the content whole.",
                    },
                    "send_mode": {
                        "anyOf": [{"type": "string", "enum": ["direct", "session"]}, {"type": "null"}],
                        "default": None,
                        "description": "`session` is not available yet: `422 unsupported_send_mode`.",
                    },
                    "routing_target": {
                        "anyOf": [{"$ref": "#/components/schemas/RoutingTarget"}, {"type": "null"}],
                        "default": None,
                        "description": "Only with `send_mode` `session` (else `422 invalid_routing_target`).",
                    },
                },
            },
            "SendIn": {
                "type": "object",
                "description": "POST /v1/campaigns/{campaign_id}/send.",
                "required": ["send_time"],
                "additionalProperties": False,
                "properties": {
                    "send_time": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/SendNow"},
                            {"$ref": "#/components/schemas/SendScheduled"},
                        ],
                        "discriminator": {
                            "propertyName": "type",
                            "mapping": {
                                "now": "#/components/schemas/SendNow",
                                "scheduled": "#/components/schemas/SendScheduled",
                            },
                        },
                    },
                },
            },
            # ------------------------------------------------------------------------------- request: uploads
            "UploadIn": {
                "type": "object",
                "description": "POST /v1/uploads (JSON): announce a file, to be PUT to the answered URL.",
                "required": ["kind", "filename", "content_type", "size"],
                "additionalProperties": False,
                "properties": {
                    "kind": {
                        "type": "string",
                        "enum": ["contacts_csv", "media"],
                        "description": "`contacts_csv`: recipients for a campaign; `media`: an MMS's file.",
                    },
                    "filename": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 1000,
                        "description": (
                            "Under 127 characters (`422 filename_too_long`), not blank and without slashes or "
                            "control characters (`422 invalid_filename`); surrounding spaces are dropped."
                        ),
                    },
                    "content_type": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 255,
                        "description": (
                            "The file's media type, which the PUT must send (`422 invalid_content_type`); for a "
                            "contact CSV one of `text/csv`, `text/plain`, `application/csv`, "
                            "`application/vnd.ms-excel`, `text/x-csv`."
                        ),
                    },
                    "size": {
                        "type": "integer",
                        "minimum": 1,
                        "description": (
                            "The file's exact size in bytes: at most 50 MB for a contact CSV, 100 MB for media "
                            "(`413 payload_too_large`)."
                        ),
                    },
                },
            },
            # --------------------------------------------------------------------------------------- answers
            "Channel": {
                "type": "object",
                "description": "A channel as answered (never with its credentials).",
                "required": [
                    "id",
                    "name",
                    "type",
                    "provider",
                    "senders",
                    "mps",
                    "webhooks",
                    "created_at",
                    "updated_at",
                ],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "type": {"type": "string", "enum": ["sms", "whatsapp"]},
                    "provider": {"type": "string", "enum": ["twilio", "whatsapp_cloud"]},
                    "senders": {"type": "array", "items": {"type": "string"}},
                    "mps": {"type": "number", "description": "Messages per second per sender."},
                    "webhooks": {
                        "type": "object",
                        "description": "The URLs to configure at the provider.",
                        "required": ["status_callback_url", "inbound_url"],
                        "additionalProperties": False,
                        "properties": {
                            "status_callback_url": {"type": "string", "format": "uri"},
                            "inbound_url": {"type": "string", "format": "uri"},
                        },
                        "x-extension": True,
                    },
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"},
                },
            },
            "ChannelList": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "additionalProperties": False,
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Channel"}},
                    "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
            "PhonebookNumberTypes": {
                "type": "object",
                "description": "For each number type, how many contacts have a number of that type.",
                "required": ["business", "business2", "mobile", "mobile2", "home", "home2", "other"],
                "additionalProperties": False,
                "properties": {
                    "business": {"type": "integer", "minimum": 0},
                    "business2": {"type": "integer", "minimum": 0},
                    "mobile": {"type": "integer", "minimum": 0},
                    "mobile2": {"type": "integer", "minimum": 0},
                    "home": {"type": "integer", "minimum": 0},
                    "home2": {"type": "integer", "minimum": 0},
                    "other": {"type": "integer", "minimum": 0},
                },
            },
            "PhonebookSummary": {
                "type": "object",
                "description": "A phonebook without its contacts, as listed.",
                "required": ["id", "name", "contact_count", "number_types", "created_at", "updated_at"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "contact_count": {"type": "integer", "minimum": 0},
                    "number_types": {"$ref": "#/components/schemas/PhonebookNumberTypes"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time", "description": "The last PUT."},
                },
            },
            "Phonebook": {
                "type": "object",
                "description": "A phonebook with its contacts, as stored.",
                "required": ["id", "name", "contact_count", "number_types", "created_at", "updated_at", "contacts"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "contact_count": {"type": "integer", "minimum": 0},
                    "number_types": {"$ref": "#/components/schemas/PhonebookNumberTypes"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time", "description": "The last PUT."},
                    "contacts": {"type": "array", "items": {"$ref": "#/components/schemas/PhonebookContact"}},
                },
            },
            "PhonebookList": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "additionalProperties": False,
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/PhonebookSummary"}},
                    "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
            "CampaignStatus": {
                "type": "string",
                "enum": ["draft", "scheduled", "pending", "executing", "completed", "stopped", "retrying"],
                "description": (
                    "`draft`: saved, will not be sent. `scheduled`: will start at `scheduled_at`. `pending`: waiting "
                    "because another campaign of the tenant is sending (they start in the order they became "
                    "pending). `executing`: sending (at most one campaign per tenant is `executing` or `retrying`). "
                    "`completed`: every recipient has a final outcome. `stopped`: stopped by a system problem "
                    "(provider credentials rejected, out of credit, worker lost); nothing already sent is sent again. "
                    "`retrying`: resending failed messages (`POST .../retry`)."
                ),
                "x-extension": True,
            },
            "CampaignResult": {
                "type": "object",
                "required": ["total", "sent", "delivered", "read", "failed", "pending", "skipped"],
                "additionalProperties": False,
                "properties": {
                    "total": {"type": "integer", "minimum": 0, "description": "Recipients after deduplication."},
                    "sent": {"type": "integer", "minimum": 0, "description": "Accepted by the provider (or further)."},
                    "delivered": {"type": "integer", "minimum": 0, "description": "Delivered (or read)."},
                    "read": {"type": "integer", "minimum": 0, "description": "Read (WhatsApp).", "x-extension": True},
                    "failed": {"type": "integer", "minimum": 0, "description": "Failed or undelivered."},
                    "pending": {"type": "integer", "minimum": 0, "description": "No outcome yet."},
                    "skipped": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Not sent because the number opted out.",
                        "x-extension": True,
                    },
                },
            },
            "Campaign": {
                "type": "object",
                "description": (
                    "A campaign as answered. Until sending starts (a `draft`, `scheduled` or not yet started "
                    "`pending` campaign), `result.total` and `result.pending` are the audience's size counted when "
                    "it was saved; from then on, its written recipients' outcomes."
                ),
                "required": [
                    "id",
                    "name",
                    "status",
                    "channel_id",
                    "sender",
                    "content",
                    "send_time",
                    "send_mode",
                    "routing_target",
                    "result",
                    "responded",
                    "response_rate",
                    "segments",
                    "encoding",
                    "created_at",
                    "scheduled_at",
                    "started_at",
                    "completed_at",
                    "stop_reason",
                    "audience_report",
                ],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "status": {"$ref": "#/components/schemas/CampaignStatus"},
                    "channel_id": {"type": "string"},
                    "sender": {"type": "string"},
                    "content": {
                        "oneOf": [
                            {
                                "type": "object",
                                "required": ["type", "text"],
                                "additionalProperties": False,
                                "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
                            },
                            {
                                "type": "object",
                                "description": "An MMS; `text` only when one was given.",
                                "required": ["type", "upload_id"],
                                "additionalProperties": False,
                                "properties": {
                                    "type": {"const": "file"},
                                    "upload_id": {"type": "string"},
                                    "text": {"type": "string"},
                                },
                            },
                        ],
                    },
                    "send_time": {
                        "type": "object",
                        "required": ["type"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string", "enum": ["now", "scheduled", "draft"]},
                            "at": {"type": "string", "format": "date-time", "description": "In UTC."},
                        },
                    },
                    "send_mode": {"type": "string", "enum": ["direct", "session"]},
                    "routing_target": {"anyOf": [{"$ref": "#/components/schemas/RoutingTarget"}, {"type": "null"}]},
                    "result": {"$ref": "#/components/schemas/CampaignResult"},
                    "responded": {"type": "integer", "minimum": 0},
                    "response_rate": {"type": "number", "minimum": 0, "maximum": 1},
                    "segments": {"type": "integer", "minimum": 0, "description": "SMS segments per message."},
                    "encoding": {"type": "string", "enum": ["GSM-7", "UCS-2"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "scheduled_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "started_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "completed_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "stop_reason": {
                        "anyOf": [
                            {
                                "type": "object",
                                "required": ["code", "message"],
                                "additionalProperties": False,
                                "properties": {
                                    "code": {
                                        "type": "string",
                                        "description": (
                                            "`phonebook_not_found`, `upload_not_found` or `too_many_recipients`: "
                                            "the audience could not be resolved when sending started; "
                                            "`channel_missing`: the channel or its credentials are gone; "
                                            "`provider_<code>`: the provider refused the account (e.g. "
                                            "`provider_20003`, credentials rejected)."
                                        ),
                                    },
                                    "message": {"type": "string"},
                                },
                            },
                            {"type": "null"},
                        ],
                        "description": "Why the campaign is `stopped`; null otherwise (a retry clears it).",
                        "x-extension": True,
                    },
                    "audience_report": {
                        "anyOf": [
                            {
                                "type": "object",
                                "required": ["duplicates"],
                                "additionalProperties": False,
                                "properties": {
                                    "duplicates": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "description": (
                                            "Numbers left out because an earlier recipient has them: an upload's "
                                            "contacts repeating a typed number, or phonebook contacts sharing a "
                                            "number."
                                        ),
                                    },
                                    "phonebook_contacts": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "description": "A phonebook audience: the phonebook's contacts.",
                                    },
                                    "without_number_type": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "description": (
                                            "A phonebook audience: contacts with no number of `number_type`, left out."
                                        ),
                                    },
                                },
                            },
                            {"type": "null"},
                        ],
                        "description": ("What resolving the audience found when sending started; null until then."),
                        "x-extension": True,
                    },
                    "recipients": {
                        "type": "object",
                        "description": (
                            "The audience as given (typed numbers deduplicated); in single-campaign answers only, "
                            "not in lists."
                        ),
                        "required": ["numbers", "upload_id", "phonebook"],
                        "additionalProperties": False,
                        "properties": {
                            "numbers": {"type": "array", "items": {"type": "string"}},
                            "upload_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                            "phonebook": {"anyOf": [{"$ref": "#/components/schemas/PhonebookRef"}, {"type": "null"}]},
                        },
                        "x-extension": True,
                    },
                },
            },
            "CampaignList": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "additionalProperties": False,
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Campaign"}},
                    "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
            "RecipientStatus": {
                "type": "string",
                "description": (
                    "`sending`: being handed to the provider, or handed over without an answer (uncertain) until "
                    "the provider's callback or records settle it; never sent again blindly."
                ),
                "enum": ["queued", "sending", "sent", "delivered", "read", "undelivered", "failed", "skipped"],
            },
            "Recipient": {
                "type": "object",
                "description": "One recipient's details.",
                "required": [
                    "number",
                    "status",
                    "error",
                    "attempts",
                    "provider_message_id",
                    "sent_at",
                    "delivered_at",
                    "read_at",
                    "responded_at",
                    "session_id",
                    "variables",
                ],
                "additionalProperties": False,
                "properties": {
                    "number": {"type": "string"},
                    "status": {"$ref": "#/components/schemas/RecipientStatus"},
                    "error": {
                        "anyOf": [
                            {
                                "type": "object",
                                "required": ["code", "message"],
                                "additionalProperties": False,
                                "properties": {
                                    "code": {"type": "string", "description": "The provider's code, e.g. `21211`."},
                                    "message": {"type": "string"},
                                },
                            },
                            {"type": "null"},
                        ],
                    },
                    "attempts": {
                        "type": "integer",
                        "minimum": 0,
                        "description": (
                            "How many times the message was handed to the provider: a retry adds one, and so does a "
                            "resend after the provider's records proved an uncertain hand-over absent, or after a "
                            "connection that provably never reached it."
                        ),
                    },
                    "provider_message_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "sent_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "delivered_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "read_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "responded_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "session_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "variables": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": (
                            "Per-contact values: a CSV upload's non-empty columns other than `Number`, "
                            "or a phonebook contact's `name` (when it has one); empty for typed numbers."
                        ),
                        "x-extension": True,
                    },
                },
            },
            "RecipientList": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "additionalProperties": False,
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Recipient"}},
                    "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
            "Upload": {
                "type": "object",
                "description": (
                    "An upload. A contact CSV also answers its import report (`rows`, `valid`, `invalid`, "
                    "`duplicates`, `columns`, `errors`; zeros and empty lists until it is imported)."
                ),
                "required": _UPLOAD_REQUIRED,
                "additionalProperties": False,
                "properties": _UPLOAD_PROPERTIES,
                **_CSV_REPORT_RULE,
            },
            "UploadTicket": {
                "type": "object",
                "description": "The answer to an announced upload: the upload, and how to PUT its file.",
                "required": [*_UPLOAD_REQUIRED, "upload_url", "upload_method", "upload_headers"],
                "additionalProperties": False,
                "properties": {
                    **_UPLOAD_PROPERTIES,
                    "upload_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "A presigned object-storage URL, valid until `expires_at`.",
                    },
                    "upload_method": {"type": "string", "const": "PUT"},
                    "upload_headers": {
                        "type": "object",
                        "description": "Headers the PUT must send (the URL is signed for them): `Content-Type`.",
                        "additionalProperties": {"type": "string"},
                    },
                },
                **_CSV_REPORT_RULE,
            },
            # -------------------------------------------------------------------------------------- webhooks
            "TwilioStatusForm": {
                "type": "object",
                "description": "Twilio's status callback fields (others are accepted and covered by the signature).",
                "additionalProperties": {"type": "string"},
                "properties": {
                    "MessageSid": {"type": "string"},
                    "MessageStatus": {
                        "type": "string",
                        "description": (
                            "`sent`, `delivered`, `read`, `undelivered` and `failed` are recorded; `queued`, "
                            "`accepted`, `sending` and the others are accepted and ignored."
                        ),
                    },
                    "SmsSid": {"type": "string"},
                    "SmsStatus": {"type": "string"},
                    "ErrorCode": {"type": "string", "description": "Twilio's delivery error code, e.g. `30003`."},
                },
            },
            "TwilioInboundForm": {
                "type": "object",
                "description": "Twilio's incoming message fields (others are accepted and covered by the signature).",
                "additionalProperties": {"type": "string"},
                "properties": {
                    "MessageSid": {"type": "string"},
                    "From": {"type": "string"},
                    "To": {"type": "string"},
                    "Body": {"type": "string"},
                    "NumMedia": {"type": "string"},
                },
            },
        },
    },
}


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI document, with the deployment's base URL as its server."""
    doc = copy.deepcopy(_DOCUMENT)
    doc["servers"] = [{"url": base_url or "/", "description": "This deployment."}]
    return doc
