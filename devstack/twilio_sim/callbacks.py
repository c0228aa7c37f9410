"""What the simulated Twilio sends out: signed status callbacks from worker threads, media fetches, inbound webhooks."""

from __future__ import annotations

import logging
import mimetypes
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.request_validator import RequestValidator

from chalicelib.adapters.providers.twilio import MMS_CONTENT_TYPES  # the MIME types Twilio takes for MMS media
from devstack.twilio_sim.model import TwilioModel
from devstack.twilio_sim.records import Job
from devstack.twilio_sim.rules import (
    API_VERSION,
    MAX_MEDIA_BYTES,
    MEDIA_FETCH_TIMEOUT,
    MEDIA_INVALID_CONTENT_TYPE,
    MEDIA_RETRIEVAL_FAILED,
    MEDIA_TOO_LARGE,
    SIGNATURE_HEADER,
    WHATSAPP_PREFIX,
    country_of,
    new_sid,
)

logger = logging.getLogger(__name__)


def work(model: TwilioModel, callback_timeout: float) -> None:
    """A callback worker thread: post each status callback as it comes due, until the model stops."""
    session = requests.Session()
    session.trust_env = False
    try:
        while (job := model.take_job()) is not None:
            try:
                run_job(model, job, session, callback_timeout)
            except Exception:  # a callback worker must survive anything
                logger.exception("status callback job for %s failed", job.sid)
            finally:
                model.job_done()
    finally:
        session.close()


def run_job(model: TwilioModel, job: Job, session: requests.Session, callback_timeout: float) -> None:
    """One status callback: fetch an MMS's media first (as Twilio does before its first callback), then post it; or a
    callback posted before, posted again exactly (the callback_replay_rate fault)."""
    if job.replay is not None:
        if model.replay_due(job):
            url, token, params = job.replay
            try:
                post_signed(session, url, params, token, job.idempotency_token, callback_timeout)
            except requests.RequestException as exc:
                logger.info("replayed status callback to %s failed: %s", url, exc)
        return
    if job.stage == 0 and job.attempt == 0:
        urls = model.pending_media(job)
        if urls:
            results, error_code = fetch_media(session, urls)
            model.media_checked(job, results, error_code)
    delivery = model.start_delivery(job)
    if delivery is None:
        return
    ok, posted = True, False
    if delivery.url and delivery.token:
        posted = True
        try:
            ok = (
                post_signed(
                    session, delivery.url, delivery.params, delivery.token, job.idempotency_token, callback_timeout
                )
                < 500
            )
        except requests.RequestException as exc:
            logger.info("status callback %s to %s failed: %s", delivery.status, delivery.url, exc)
            ok = False
    model.finish_delivery(job, delivery, ok, posted)


def post_signed(
    session: requests.Session,
    url: str,
    params: dict[str, str],
    token: str,
    idempotency_token: str,
    callback_timeout: float,
) -> int:
    """POST a form signed with X-Twilio-Signature as Twilio does; the answer's HTTP status."""
    signature = RequestValidator(token).compute_signature(url, params)
    response = session.post(
        url,
        data=params,
        headers={
            SIGNATURE_HEADER: signature,
            "I-Twilio-Idempotency-Token": idempotency_token,
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
        },
        timeout=(2.0, callback_timeout),
        allow_redirects=False,
    )
    _ = response.content  # drain, so the keep-alive connection goes back to the pool
    return response.status_code


def post_inbound(
    model: TwilioModel,
    from_number: str,
    to_number: str,
    body: str,
    media_urls: Sequence[str],
    callback_timeout: float,
    button_payload: str | None = None,
    button_text: str | None = None,
    replied_to: str | None = None,
    message_sid: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Post a signed incoming-message webhook for ``to_number`` (its MessageSid ``message_sid`` when given, else a new
    one); (HTTP status to answer, result JSON). It is kept, to be replayed by ``replay_inbound``.

    To a WhatsApp sender it is addressed ``whatsapp:+E164`` both ways and carries WhatsApp's fields: ``ProfileName``,
    ``WaId``, ``MessageType`` and, for a quick-reply button press, ``ButtonPayload`` (the button's id) and
    ``ButtonText``; ``replied_to`` (a message sid) is the ``OriginalRepliedMessageSid`` of a reply or button press."""
    for name, value in (("from", from_number), ("to", to_number)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"'{name}' must be a non-empty string")
    if not isinstance(body, str):
        raise ValueError("'body' must be a string")
    if isinstance(media_urls, str) or not all(isinstance(u, str) and u for u in media_urls):
        raise ValueError("'media' must be a list of URLs")
    for name, extra in (("button_payload", button_payload), ("button_text", button_text), ("replied_to", replied_to)):
        if extra is not None and not isinstance(extra, str):
            raise ValueError(f"'{name}' must be a string")
    if message_sid is not None and (not isinstance(message_sid, str) or not message_sid):
        raise ValueError("'message_id' must be a non-empty string")
    url, token, account_sid, whatsapp = model.inbound_target(to_number)
    if not url or not token:
        return 409, {"error": f"number {to_number} has no inbound_url", "status": 409}
    sid = message_sid or new_sid("MM" if media_urls else "SM")
    params = {
        "ToCountry": country_of(to_number),
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media_urls)),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": country_of(from_number),
        "To": to_number,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_number,
        "ApiVersion": API_VERSION,
    }
    if whatsapp:
        params["To"] = WHATSAPP_PREFIX + to_number
        params["From"] = WHATSAPP_PREFIX + from_number
        params["ProfileName"] = "Sim User"
        params["WaId"] = from_number.lstrip("+")
        params["MessageType"] = "button" if button_payload else ("image" if media_urls else "text")
        if button_payload:
            params["ButtonPayload"] = button_payload
            params["ButtonText"] = button_text or body
        if replied_to:
            params["OriginalRepliedMessageSid"] = replied_to
            params["OriginalRepliedMessageSender"] = WHATSAPP_PREFIX + to_number
    for i, media_url in enumerate(media_urls):
        params[f"MediaContentType{i}"] = mimetypes.guess_type(urlsplit(media_url).path)[0] or "image/jpeg"
        params[f"MediaUrl{i}"] = media_url
    idempotency_token = uuid.uuid4().hex
    model.count_inbound(to_number, params, idempotency_token)
    return _post_inbound(url, params, token, idempotency_token, callback_timeout)


def replay_inbound(model: TwilioModel, sid: str, callback_timeout: float) -> tuple[int, dict[str, Any]]:
    """Post an incoming message again exactly as it was (same form and I-Twilio-Idempotency-Token, signed again), as
    Twilio retries a webhook it got no answer to; LookupError for a sid never posted."""
    to_number, params, idempotency_token = model.kept_inbound(sid)
    url, token, _, _ = model.inbound_target(to_number)
    if not url or not token:
        return 409, {"error": f"number {to_number} has no inbound_url", "status": 409}
    status, result = _post_inbound(url, params, token, idempotency_token, callback_timeout)
    return status, {**result, "replayed": True}


def _post_inbound(
    url: str, params: dict[str, str], token: str, idempotency_token: str, callback_timeout: float
) -> tuple[int, dict[str, Any]]:
    sid = params["MessageSid"]
    try:
        with requests.Session() as session:
            session.trust_env = False
            status = post_signed(session, url, params, token, idempotency_token, callback_timeout)
    except requests.RequestException as exc:
        logger.warning("inbound webhook to %s failed: %s", url, exc)
        return 502, {"message_sid": sid, "status": None, "error": str(exc)}
    return 200, {"message_sid": sid, "status": status}


def fetch_media(session: requests.Session, urls: Sequence[str]) -> tuple[list[dict[str, Any]], int | None]:
    """GET each media URL in order: what was fetched, and the Twilio error code that fails the message (or None)."""
    results: list[dict[str, Any]] = []
    error_code: int | None = None
    total = 0
    for url in urls:
        item: dict[str, Any] = {
            "url": url,
            "status": "skipped",
            "bytes": None,
            "content_type": None,
            "http_status": None,
        }
        results.append(item)
        if error_code is not None:
            continue
        try:
            with session.get(url, timeout=MEDIA_FETCH_TIMEOUT, stream=True) as response:
                item["http_status"] = response.status_code
                item["content_type"] = response.headers.get("Content-Type")
                if not 200 <= response.status_code < 300:
                    item["status"], error_code = "failed", MEDIA_RETRIEVAL_FAILED
                    continue
                media_type = (item["content_type"] or "").split(";", 1)[0].strip().lower()
                if media_type not in MMS_CONTENT_TYPES:
                    item["status"], error_code = "invalid_content_type", MEDIA_INVALID_CONTENT_TYPE
                    continue
                size = 0
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    size += len(chunk)
                    if total + size > MAX_MEDIA_BYTES:
                        break  # never read more than the limit allows
                item["bytes"] = size
                total += size
                if total > MAX_MEDIA_BYTES:
                    item["status"], error_code = "too_large", MEDIA_TOO_LARGE
                else:
                    item["status"] = "fetched"
        except requests.RequestException as exc:
            logger.info("media fetch %s failed: %s", url, exc)
            item["status"], error_code = "failed", MEDIA_RETRIEVAL_FAILED
    return results, error_code
