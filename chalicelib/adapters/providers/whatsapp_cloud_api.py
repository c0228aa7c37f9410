"""Meta's WhatsApp Cloud API, the account calls: send a message (`POST /{phone-number-id}/messages`) and list the
WABA's message templates (`GET /{waba-id}/message_templates`, every page), over `requests`.

One pooled `requests.Session` per container (module level), no retries inside requests (a retried POST could send
twice), timeouts from the settings. The dialect (limits, codes, webhooks) is in whatsapp_cloud.py.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from chalicelib.adapters.providers.base import (
    Lookup,
    Outcome,
    SendResult,
    Template,
    TemplateMessage,
    WebhookRequest,
)
from chalicelib.adapters.providers.exceptions import connect_failed
from chalicelib.adapters.providers.whatsapp_cloud import HubSignature, WhatsAppCloudRules, error, template_status
from chalicelib.domain import templates as tpl
from chalicelib.domain.errors import ProviderRefusedError, ProviderUnavailableError

log = logging.getLogger(__name__)

POOL_SIZE = 16  # connections kept per host: the sender's threads share them
CONNECT_TIMEOUT = 3.05  # seconds to open a connection (just over a TCP retransmission window)
TEMPLATE_PAGE_SIZE = 100
MAX_TEMPLATE_PAGES = 200  # 20,000 templates: far beyond Meta's per-WABA limit; a guard against a cursor loop
TEMPLATE_FIELDS = "id,name,language,status,category,components,parameter_format,rejected_reason,quality_score"

_session: requests.Session | None = None
_session_lock = threading.Lock()


def session() -> requests.Session:
    """This container's one pooled session for the Graph API (no retries inside requests)."""
    global _session
    with _session_lock:
        if _session is None:
            made = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
            made.mount("https://", adapter)
            made.mount("http://", adapter)
            _session = made
        return _session


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------- the answers


def classify_exception(exc: BaseException) -> SendResult:
    """A send that raised instead of answering: TRANSIENT when the request provably never left, else UNCERTAIN."""
    if isinstance(exc, UnicodeError | requests.exceptions.InvalidHeader):
        # The token cannot be put in a header: every send fails the same way, the account's problem.
        return SendResult(Outcome.ACCOUNT, error_code="invalid_credentials", error_message=type(exc).__name__)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return SendResult(Outcome.TRANSIENT, error_code="provider_unreachable", error_message="connect timeout")
    if isinstance(exc, requests.exceptions.ConnectionError) and connect_failed(exc):
        # Connection refused, DNS failure: no byte of the request was written.
        return SendResult(Outcome.TRANSIENT, error_code="provider_unreachable", error_message="connection failed")
    if isinstance(exc, requests.exceptions.Timeout):
        return SendResult(Outcome.UNCERTAIN, error_code="provider_timeout", error_message="no answer in time")
    # A reset after the request went out, an unreadable answer: Meta may have the message.
    return SendResult(Outcome.UNCERTAIN, error_code="provider_no_answer", error_message=type(exc).__name__)


def graph_error(response: requests.Response) -> tuple[str | None, str]:
    """The Graph error's code and words (`{"error": {"code", "message", "error_data": {"details"}}}`), if any."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None, f"HTTP {response.status_code}"
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None, f"HTTP {response.status_code}"
    code = err.get("code")
    details = err.get("error_data", {}).get("details") if isinstance(err.get("error_data"), dict) else None
    words = str(details or err.get("message") or "")[:300]
    if isinstance(code, int | str) and not isinstance(code, bool) and str(code).isdigit():
        return str(code), words
    return None, words or f"HTTP {response.status_code}"


def classify_answer(response: requests.Response) -> SendResult:
    """The outcome of an answer to `POST /messages`."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            body = response.json()
            message_id = body["messages"][0]["id"]
        except (ValueError, RecursionError, KeyError, IndexError, TypeError):
            message_id = None
        if not isinstance(message_id, str) or not message_id:
            # A 2xx without a message id: Meta may have it, and only the status webhook can tell.
            return SendResult.uncertain("provider_no_answer", "answer without a message id")
        return SendResult.accepted(message_id)
    code, words = graph_error(response)
    info = error(code) if code is not None else None
    if status >= 500 and (info is None or info.outcome != Outcome.THROTTLED):
        # A 5xx (or a proxy's) may come after Meta took the message: settle it, never resend blindly.
        return SendResult.uncertain(code or f"http_{status}", words)
    if info is None:
        if status == 429:
            return SendResult.refused(Outcome.THROTTLED, "http_429", words, retry_after=_retry_after(response))
        outcome = Outcome.ACCOUNT if status in (401, 403) else Outcome.PERMANENT
        return SendResult.refused(outcome, f"http_{status}", words)
    retry_after = _retry_after(response) or info.retry_after_seconds if info.outcome == Outcome.THROTTLED else None
    return SendResult.refused(info.outcome, info.code, words or info.message, retry_after=retry_after)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isascii() and value.isdigit() and len(value) < 6 else None


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# ------------------------------------------------------------------------------------------ the templates
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
BUTTON_TYPES = {"QUICK_REPLY": "quick_reply", "URL": "url", "PHONE_NUMBER": "phone_number"}


def template_of(item: Mapping[str, Any]) -> Template | None:
    """One `message_templates` item as a Template (None when it has no id or name)."""
    template_id, name = item.get("id"), item.get("name")
    if not isinstance(template_id, str | int) or not isinstance(name, str) or not name:
        return None
    components = [c for c in _sequence(item.get("components")) if isinstance(c, dict)]
    body = next((str(c.get("text") or "") for c in components if str(c.get("type")).upper() == "BODY"), "")
    header = None
    buttons: list[dict[str, Any]] = []
    for component in components:
        kind = str(component.get("type")).upper()
        if kind == "HEADER":
            fmt = str(component.get("format") or "TEXT").lower()
            if fmt in ("text", *tpl.HEADER_MEDIA_TYPES):
                header = {"type": fmt, **({"text": str(component.get("text") or "")} if fmt == "text" else {})}
        elif kind == "BUTTONS":
            for button in _sequence(component.get("buttons")):
                if isinstance(button, dict) and str(button.get("type")).upper() in BUTTON_TYPES:
                    buttons.append({"type": BUTTON_TYPES[str(button["type"]).upper()], "text": button.get("text", "")})
    # The body's parameters in order of first appearance ({{1}}, {{2}} or {{first_name}}).
    variables = tuple(dict.fromkeys(VARIABLE.findall(body)))
    declared = str(item.get("parameter_format") or "").upper()
    if declared in ("NAMED", "POSITIONAL"):
        parameter_format = tpl.NAMED if declared == "NAMED" else tpl.POSITIONAL
    else:
        parameter_format = tpl.NAMED if any(not v.isdigit() for v in variables) else tpl.POSITIONAL
    provider_status = str(item.get("status") or "")
    reason = item.get("rejected_reason")
    category = item.get("category")
    return Template(
        id=str(template_id),
        name=name,
        language=str(item.get("language") or ""),
        status=template_status(provider_status),
        body=body,
        variables=variables,
        category=category.lower() if isinstance(category, str) and category else None,
        parameter_format=parameter_format,
        header=header,
        buttons=tuple(buttons),
        provider_status=provider_status,
        reason=reason if isinstance(reason, str) and reason and reason.upper() != "NONE" else None,
    )


# --------------------------------------------------------------------------------------------- a message
def message_body(to: str, text: str | None, status_callback: str, template: TemplateMessage | None) -> dict[str, Any]:
    """The JSON of `POST /messages`: a template (header media, body parameters, quick-reply payloads) or text."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to.lstrip("+")}
    if template is None:
        body.update(type="text", text={"body": text or "", "preview_url": False})
    else:
        components: list[dict[str, Any]] = []
        if template.header_type and template.header_media_url:
            media: dict[str, Any] = {"link": template.header_media_url}
            if template.header_type == "document" and template.header_filename:
                media["filename"] = template.header_filename
            components.append(
                {"type": "header", "parameters": [{"type": template.header_type, template.header_type: media}]}
            )
        if template.variables:
            if template.parameter_format == tpl.NAMED:
                named = template.variables.items()
                parameters = [{"type": "text", "parameter_name": name, "text": value} for name, value in named]
            else:
                ordered = sorted(template.variables.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)
                parameters = [{"type": "text", "text": value} for _, value in ordered]
            components.append({"type": "body", "parameters": parameters})
        # Quick-reply buttons by their index in the template's BUTTONS (Meta groups quick replies first).
        for index, payload in enumerate(template.button_payloads):
            components.append(
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": str(index),
                    "parameters": [{"type": "payload", "payload": payload}],
                }
            )
        spec: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
        if components:
            spec["components"] = components
        body.update(type="template", template=spec)
    # Meta has no per-message callback URL: our reference (the callback URL's query) travels here, echoed in every
    # status webhook of the message (at most 512 characters).
    opaque = urlsplit(status_callback).query
    if opaque:
        body["biz_opaque_callback_data"] = opaque[:512]
    return body


class WhatsAppCloudProvider(WhatsAppCloudRules):
    """Sends through one WhatsApp Business Account's phone numbers."""

    def __init__(
        self,
        access_token: str,
        app_secret: str,
        waba_id: str,
        phone_number_ids: Mapping[str, str],
        api_base: str = "https://graph.facebook.com/v21.0",
        timeout: float = 10.0,
    ) -> None:
        self._token = access_token
        self._waba_id = waba_id
        self._phone_number_ids = dict(phone_number_ids)
        self._base = api_base.rstrip("/")
        self._timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        # A local simulator is never reached through a proxy from the environment.
        self._proxies: dict[str, Any] = {"http": None, "https": None} if _loopback(self._base) else {}
        self._signature = HubSignature(app_secret)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    def send(
        self,
        *,
        to: str,
        sender: str,
        text: str | None,
        media_urls: Sequence[str],
        status_callback: str,
        template: TemplateMessage | None = None,
    ) -> SendResult:
        """POST one message from the sender's phone number id; every failure is a classified result, never raised."""
        number_id = self._phone_number_ids.get(sender)
        if not number_id:
            # Nothing leaves: the channel's provider_config has no id for this sender (the check at save prevents it).
            return SendResult.refused(Outcome.ACCOUNT, "unknown_sender", "no phone_number_id for this sender")
        if template is None and media_urls:
            return SendResult.refused(Outcome.PERMANENT, "media_not_supported", "media goes in a template header")
        try:
            response = session().post(
                f"{self._base}/{number_id}/messages",
                json=message_body(to, text, status_callback, template),
                headers=self._headers(),
                timeout=self._timeout,
                allow_redirects=False,
                proxies=self._proxies,
            )
            result = classify_answer(response)
        except Exception as exc:  # noqa: BLE001 - requests' errors and anything else on the wire
            result = classify_exception(exc)
            log.warning("whatsapp send raised %s: %s", type(exc).__name__, result.outcome.value)
        return result

    def find(self, *, to: str, sender: str, text: str | None, media_count: int, since: float) -> Lookup:
        """Cannot tell (found=None): Meta has no message records to read; the status webhook settles a message."""
        return Lookup(None)

    def templates(self) -> list[Template]:
        """Every message template of the WABA, following the paging cursors until the last page.

        Raises ProviderRefusedError when Meta refuses (credentials, permissions, any Graph error) and
        ProviderUnavailableError when it cannot be reached or does not answer.
        """
        found: list[Template] = []
        params: dict[str, str] = {"limit": str(TEMPLATE_PAGE_SIZE), "fields": TEMPLATE_FIELDS}
        seen: set[str] = set()
        for _ in range(MAX_TEMPLATE_PAGES):
            page = self._get(f"{self._base}/{self._waba_id}/message_templates", params)
            found.extend(t for t in (template_of(i) for i in _sequence(page.get("data")) if isinstance(i, dict)) if t)
            paging = _mapping(page.get("paging"))
            after = _mapping(paging.get("cursors")).get("after")
            if not paging.get("next") or not isinstance(after, str) or not after or after in seen:
                return found
            seen.add(after)
            params = {**params, "after": after}
        return found

    def _get(self, url: str, params: Mapping[str, str]) -> dict[str, Any]:
        try:
            response = session().get(
                url, params=params, headers=self._headers(), timeout=self._timeout, proxies=self._proxies
            )
        except (UnicodeError, requests.exceptions.InvalidHeader):
            raise ProviderRefusedError("WhatsApp refused the credentials (they cannot be sent)") from None
        except requests.RequestException as exc:
            log.warning("whatsapp templates list raised %s", type(exc).__name__)
            raise ProviderUnavailableError("WhatsApp could not be reached; try again later") from None
        if response.status_code >= 500:
            raise ProviderUnavailableError(f"WhatsApp answered HTTP {response.status_code}; try again later")
        if response.status_code != 200:
            code, words = graph_error(response)
            info = error(code) if code else None
            if info is not None and info.outcome == Outcome.THROTTLED:
                raise ProviderUnavailableError(f"WhatsApp is rate limiting ({code}); try again later")
            raise ProviderRefusedError(
                f"WhatsApp refused to list the templates: {words}",
                details=[{"provider_code": code, "http_status": response.status_code}],
            )
        try:
            body = response.json()
        except (ValueError, RecursionError):
            raise ProviderUnavailableError("WhatsApp's answer was not JSON; try again later") from None
        if not isinstance(body, dict):
            raise ProviderUnavailableError("WhatsApp's answer was not a JSON object; try again later")
        return body

    def valid(self, request: WebhookRequest) -> bool:
        """True when Meta signed the webhook with this app's secret."""
        return self._signature.valid(request)


__all__ = ["WhatsAppCloudProvider", "classify_answer", "classify_exception", "message_body", "session", "template_of"]
