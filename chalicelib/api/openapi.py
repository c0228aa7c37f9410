"""The OpenAPI 3.1 document of what this deployment implements, extensions to the contract marked `x-extension`.

A plain literal, checked by tests/unit/test_openapi.py: it validates, it has exactly the app's routes and methods, its
request schemas match `chalicelib/api/schemas.py`, and every error code the services raise appears in it;
tests/functional/test_openapi_served.py checks real answers against its response schemas.
"""

from __future__ import annotations

import copy
from typing import Any

_JSON = "application/json"


_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Message Campaigns",
        "version": "1.0.0",
        "summary": "Bulk SMS campaigns for a PBX, sent through Twilio.",
        "description": (
            "The REST API a PBX calls under `/v1` with `Authorization: Bearer <api key>` (each key is one tenant; "
            "another tenant's id answers `404`), and the provider webhooks under `/webhooks` (authenticated by the "
            "provider's signature). JSON in and out (`application/json; charset=utf-8`), times RFC 3339 in UTC, "
            "ids opaque strings, lists paged with `limit` (default 50, max 200) and `cursor`.\n\n"
            'Every error answers `{"error": {"code", "message", "details"}}` with a stable `code`. A 5xx is a '
            "bug (`500 internal_error`, logged).\n\n"
            "This document covers what this deployment implements: health, this document, channels, campaigns "
            "(create, list, read, recipients) and the Twilio webhooks. WhatsApp templates, phonebooks, uploads, "
            "sessions, opt-outs, and the campaign operations PATCH, send, duplicate, retry and DELETE are not "
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
            "- Campaign `status` values and the `status` filters (`400 invalid_request` for an unknown value).\n"
            "- Features not available yet are refused with a clear `422`: `send_mode: session` "
            "(`unsupported_send_mode`; `routing_target` without it: `invalid_routing_target`); content of type "
            "`file` (`upload_not_found`) or `template` (`template_not_supported`); recipients by `upload_id` "
            "(`upload_not_found`) or `phonebook` (`phonebook_not_found`); a channel of type `whatsapp` or provider "
            "`whatsapp_cloud` (`unsupported_channel`).\n"
            "- Ids in a body or path are at most 128 characters: a longer body id is `400 invalid_request`, a "
            "longer path id `404 not_found` (`403` on a webhook); a `cursor` is at most 512 characters."
        ),
        "x-extension-codes": ["method_not_allowed", "try_again"],
    },
    "servers": [{"url": "/"}],
    "tags": [
        {"name": "meta", "description": "Health and this document."},
        {"name": "channels", "description": "Provider accounts and their sender numbers."},
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
                            "`field` `senders.<index>`); `invalid_mps`: `mps` not above 0 and at most 1000."
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
                                                                "idempotency_key_reused",
                                                                "invalid_mps",
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
                            "above 0 and at most 1000."
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
                                                        "code": {"enum": ["invalid_phone_number", "invalid_mps"]}
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
                    "422": {
                        "description": (
                            "Checked in this order. `channel_not_found`: no such channel for this tenant; "
                            "`invalid_sender`: `sender` is not one of the channel's senders (details list them); "
                            "`unsupported_send_mode`: `send_mode` `session` is not available yet (x-extension); "
                            "`invalid_routing_target`: a `routing_target` without `send_mode` `session`; "
                            "`template_not_supported`: content of type `template` needs a WhatsApp channel "
                            "(x-extension); `upload_not_found`: content of type `file`, or `recipients.upload_id`, "
                            "names no upload (uploads are not available yet, x-extension); `content_empty`: "
                            "`content.text` is blank; `content_too_long`: more than 1,600 characters; "
                            "`phonebook_not_found`: `recipients.phonebook` names no phonebook (phonebooks are not "
                            "available yet, x-extension); `invalid_phone_number`: numbers that are not valid E.164 "
                            "(details list the first 100, `field` `recipients.numbers.<index>`); `no_recipients`: "
                            "no number; `too_many_recipients`: more than 1,000 after removing duplicates (a setting); "
                            "`invalid_schedule`: `send_time.at` is not an RFC 3339 time with an offset, not in the "
                            "future, or more than a year ahead; `idempotency_key_reused`: the `Idempotency-Key` came "
                            "with a different request before (x-extension)."
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
                                                                "channel_not_found",
                                                                "invalid_sender",
                                                                "unsupported_send_mode",
                                                                "invalid_routing_target",
                                                                "template_not_supported",
                                                                "upload_not_found",
                                                                "content_empty",
                                                                "content_too_long",
                                                                "phonebook_not_found",
                                                                "invalid_phone_number",
                                                                "no_recipients",
                                                                "too_many_recipients",
                                                                "invalid_schedule",
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
        },
        "/v1/campaigns/{campaign_id}/recipients": {
            "parameters": [{"$ref": "#/components/parameters/campaign_id"}],
            "get": {
                "operationId": "listRecipients",
                "tags": ["campaigns"],
                "summary": "Per-recipient details of a campaign, in the order the numbers were given.",
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
                    "`cursor` or `status`; on a webhook, a form body that is not UTF-8. `details` lists each problem "
                    "as `{field, message, type}`."
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
                "description": "`invalid_signature`: no, or a wrong, `X-Twilio-Signature`, or an unknown channel.",
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
                    "`unsupported_media_type`: the Content-Type is not the one this operation takes "
                    "(`application/json`, or `application/x-www-form-urlencoded` on a webhook)."
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
                    "account_sid": {"type": "string", "minLength": 1, "maxLength": 64},
                    "auth_token": {"type": "string", "minLength": 1, "maxLength": 256},
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
                            "whole request with `422 invalid_phone_number` listing the offenders."
                        ),
                    },
                    "upload_id": {
                        "anyOf": [{"type": "string", "maxLength": 128}, {"type": "null"}],
                        "default": None,
                        "description": "Uploads are not available yet: `422 upload_not_found`.",
                        "x-extension": True,
                    },
                    "phonebook": {
                        "anyOf": [{"$ref": "#/components/schemas/PhonebookRef"}, {"type": "null"}],
                        "default": None,
                        "description": "Phonebooks are not available yet: `422 phonebook_not_found`.",
                        "x-extension": True,
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
                "description": "An MMS. Uploads are not available yet: `422 upload_not_found`.",
                "required": ["type", "upload_id"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "const": "file"},
                    "upload_id": {"type": "string", "maxLength": 128},
                    "text": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                },
                "x-extension": True,
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
            "CampaignStatus": {
                "type": "string",
                "enum": ["draft", "scheduled", "pending", "executing", "completed", "stopped", "retrying"],
                "description": (
                    "`draft`: saved, will not be sent. `scheduled`: will start at `scheduled_at`. `pending`: waiting "
                    "because another campaign of the tenant is sending (they start in the order they became "
                    "pending). `executing`: sending (at most one campaign per tenant is `executing` or `retrying`). "
                    "`completed`: every recipient has a final outcome. `stopped`: stopped by a system problem "
                    "(provider credentials rejected, out of credit, worker lost); nothing already sent is sent again. "
                    "`retrying`: resending failed messages (the retry operation is not available yet)."
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
                "description": "A campaign as answered.",
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
                ],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "status": {"$ref": "#/components/schemas/CampaignStatus"},
                    "channel_id": {"type": "string"},
                    "sender": {"type": "string"},
                    "content": {
                        "type": "object",
                        "required": ["type", "text"],
                        "additionalProperties": False,
                        "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
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
                    "attempts": {"type": "integer", "minimum": 0},
                    "provider_message_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "sent_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "delivered_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "read_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "responded_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "session_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
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
