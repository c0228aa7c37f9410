"""Twilio, through the official SDK: sending, error classification, webhook signatures."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from chalicelib.adapters.providers.base import Outcome, SendResult
from chalicelib.adapters.providers.twilio_http import RewritingTwilioHttpClient

log = logging.getLogger(__name__)

# Twilio error codes and what they mean for the campaign (https://www.twilio.com/docs/api/errors).
THROTTLED_CODES = frozenset({20429, 14107})  # 20429 too many requests; 14107 SMS send rate limit exceeded
ACCOUNT_CODES = frozenset(
    {
        20003,  # authentication failed: credentials rejected
        20005,  # account not active (suspended or closed)
        20008,  # test credentials cannot do this
        21606,  # the From number is not one of this account's SMS-capable numbers
        30002,  # account suspended
    }
)
TRANSIENT_CODES = frozenset(
    {
        20500,  # internal server error
        20503,  # service unavailable
        30001,  # queue overflow
    }
)
# Everything else in 4xx is permanent for the recipient, notably:
# 21211 invalid To number, 21612 cannot route to this number, 21408 region not enabled,
# 21610 recipient unsubscribed (replied STOP), 21614 not a mobile number, 21604 To missing, 21602 body missing,
# 21617 body too long, 21620/21623 media problems, 30007 carrier filtering.


def classify(status: int, code: int | None) -> Outcome:
    """The outcome of a Twilio REST error."""
    if code in THROTTLED_CODES or status == 429:
        return Outcome.THROTTLED
    if code in ACCOUNT_CODES or status == 401:
        return Outcome.ACCOUNT
    if code in TRANSIENT_CODES or status >= 500:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


class TwilioProvider:
    """Sends through one Twilio account."""

    def __init__(self, account_sid: str, auth_token: str, api_base: str | None = None, timeout: float = 10.0) -> None:
        http_client: TwilioHttpClient
        if api_base:
            http_client = RewritingTwilioHttpClient(api_base, timeout=timeout)
        else:
            http_client = TwilioHttpClient(timeout=timeout)
        self._client = Client(account_sid, auth_token, http_client=http_client)

    def send(
        self, *, to: str, sender: str, text: str | None, media_urls: Sequence[str], status_callback: str
    ) -> SendResult:
        """Create one message; every failure becomes a classified result, never an exception."""
        kwargs: dict[str, Any] = {"to": to, "from_": sender, "status_callback": status_callback}
        if text:
            kwargs["body"] = text
        if media_urls:
            kwargs["media_url"] = list(media_urls)
        try:
            message = self._client.messages.create(**kwargs)
        except TwilioRestException as exc:
            outcome = classify(int(exc.status or 0), int(exc.code) if exc.code is not None else None)
            return SendResult(outcome, error_code=str(exc.code or exc.status), error_message=_short(exc.msg))
        except TwilioException as exc:  # connection errors and the like
            return SendResult(Outcome.TRANSIENT, error_code="provider_unreachable", error_message=_short(str(exc)))
        except Exception as exc:  # noqa: BLE001 - requests' connection errors and anything else on the wire
            log.warning("twilio send raised %s", type(exc).__name__)
            return SendResult(Outcome.TRANSIENT, error_code="provider_unreachable", error_message=type(exc).__name__)
        return SendResult(Outcome.ACCEPTED, message_id=message.sid)


class TwilioSignature:
    """X-Twilio-Signature checks for one auth token."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """True when the signature is Twilio's for this URL and these form fields."""
        if not signature:
            return False
        return bool(self._validator.validate(url, dict(params), signature))


def _short(text: Any, limit: int = 300) -> str:
    value = str(text or "")
    return value if len(value) <= limit else value[: limit - 1] + "…"
