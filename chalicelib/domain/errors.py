"""One error hierarchy for the whole service; the API maps each to an HTTP status and a stable code."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.campaign import Campaign
from chalicelib.domain.channels import Channel
from chalicelib.domain.idempotency import IdempotencyRecord
from chalicelib.domain.recipient import Recipient
from chalicelib.domain.uploads import Upload


class ServiceError(Exception):
    """Base of every error the service answers with; `status` and `code` are part of the contract."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: list[Any] = details or []


class InvalidRequestError(ServiceError):
    """Malformed JSON, wrong types, unknown fields (400)."""

    status = 400
    code = "invalid_request"


class UnauthorizedError(ServiceError):
    """No or wrong API key (401)."""

    status = 401
    code = "unauthorized"


class InvalidSignatureError(ServiceError):
    """A provider webhook without a valid signature (403)."""

    status = 403
    code = "invalid_signature"


class NotFoundError(ServiceError):
    """No such resource for this tenant (404)."""

    status = 404
    code = "not_found"


class MethodNotAllowedError(ServiceError):
    """The path exists but not with this method (405)."""

    status = 405
    code = "method_not_allowed"


class ConflictError(ServiceError):
    """Not allowed in the resource's current state, or a limit reached (409)."""

    status = 409
    code = "conflict"


class PayloadTooLargeError(ServiceError):
    """Body or file too large (413)."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ServiceError):
    """Wrong content type (415)."""

    status = 415
    code = "unsupported_media_type"


class UnprocessableError(ServiceError):
    """Well-formed but invalid (422)."""

    status = 422
    code = "unprocessable"


class ConcurrencyError(ServiceError):
    """A conditional write kept losing its race; the caller may try again (503, never expected)."""

    status = 503
    code = "try_again"


class ProviderRefusedError(UnprocessableError):
    """The provider refused a call made with the channel's credentials (401/403: wrong or revoked credentials, or a
    product the account does not have): the channel must be fixed, asking again will not help (422)."""

    code = "provider_refused"


class ProviderUnavailableError(ServiceError):
    """The provider could not be reached or answered with a server error; the caller may try again later (503)."""

    status = 503
    code = "provider_unavailable"


# ---------------------------------------------------------------------------------------------------- lost races
# What a repository raises when a conditional write loses. Each is a subclass of the error the API answered with
# before, so statuses and codes stay the same; each carries what the caller needs (the item as it was, from
# ReturnValuesOnConditionCheckFailure=ALL_OLD) instead of making it read again.


class TenantExistsError(ConflictError):
    """A tenant or API key with this id or hash exists already (409 tenant_exists)."""

    code = "tenant_exists"


class TenantNotFoundError(NotFoundError):
    """No such tenant (404)."""


class KeyRotationRaceError(ConcurrencyError):
    """The tenant's API key kept changing while it was being rotated (503)."""


class ChannelNotFoundError(NotFoundError):
    """No such channel for this tenant (404)."""


class ChannelIdTakenError(ConcurrencyError):
    """A channel id that exists already was given to a new channel (503: ids are random, never expected)."""


class ChannelChangedError(ConcurrencyError):
    """A campaign started using the channel since it was read: `channel` is the channel as it is now (503 if it
    keeps happening)."""

    def __init__(self, message: str, *, channel: Channel | None = None) -> None:
        super().__init__(message)
        self.channel = channel


class DuplicateInboundError(ConflictError):
    """This inbound message (provider message id) is kept already: a provider's retry (409, never answered).
    `first_seen` is when it was first kept (epoch seconds), when known."""

    def __init__(self, message: str, first_seen: float | None = None) -> None:
        super().__init__(message)
        self.first_seen = first_seen


class UploadIdTakenError(ConcurrencyError):
    """An upload id that exists already was given to a new upload (503: ids are random, never expected)."""


class UploadBusyError(ConflictError):
    """The upload is processed already, or another worker's import of it is alive: `upload` is it as it is now."""

    def __init__(self, message: str, *, upload: Upload | None = None) -> None:
        super().__init__(message)
        self.upload = upload


class UploadFinishedError(ConflictError):
    """The upload's outcome is recorded already (or it is gone: `upload` is None); `upload` is it as it is now."""

    def __init__(self, message: str, *, upload: Upload | None = None) -> None:
        super().__init__(message)
        self.upload = upload


class IdempotencyKeyTakenError(ConflictError):
    """The Idempotency-Key is remembered (and not expired): `record` is what the request that took it stored."""

    def __init__(self, message: str, *, record: IdempotencyRecord) -> None:
        super().__init__(message)
        self.record = record


# ---------------------------------------------------------------------------------------------- lost races
# Raised by repositories when a conditional write loses; each carries, where the caller needs it, the item as the
# winner left it (DynamoDB's ALL_OLD), so nobody reads it again to find out what happened.


class CampaignLimitError(ConflictError):
    """The tenant has as many campaigns as it may (409 campaign_limit_reached)."""

    code = "campaign_limit_reached"


class ChannelGoneError(ConflictError):
    """The campaign's channel was deleted while the campaign was being written (409 channel_not_found)."""

    code = "channel_not_found"


class CampaignMovedError(ConcurrencyError):
    """A campaign was not in the status (or draft version) a write expected; `campaign` is it as it was, if any."""

    def __init__(self, message: str, campaign: Campaign | None = None) -> None:
        super().__init__(message)
        self.campaign = campaign


class AudienceWrittenError(ConflictError):
    """A campaign's recipients and counters were written already (by another dispatcher), or it stopped sending
    (never answered: the dispatcher that loses leaves the winner's counters)."""


class RecipientMovedError(ConcurrencyError):
    """A recipient was not as a write expected (moved on, or claimed by another); `recipient` is it as it was."""

    def __init__(self, message: str, recipient: Recipient | None = None) -> None:
        super().__init__(message)
        self.recipient = recipient


class AlreadyRespondedError(ConflictError):
    """The recipient's reply is counted already (`responded_at` is set): a replay, or its second reply (never
    answered: the first reply stands)."""


class OptOutUnchangedError(ConflictError):
    """The number is on the opt-out list already (an opt-out), or not on it (an opt-in): the entry is left as it is,
    so a repeated STOP is no second change (never answered)."""


class SessionClosedError(ConflictError):
    """The session is closed already (by the API, or after its channel's `session_expire_hours` of silence)."""

    code = "session_closed"


class EventRoutesLimitError(ConflictError):
    """EventBridge refuses another tenant route (its quota of rules per bus, or of API destinations, is reached)."""

    code = "event_routes_limit_reached"


class EventRoutesUnavailableError(ConcurrencyError):
    """EventBridge could not set the tenant's route now; the PATCH may be sent again (503)."""
