"""What the simulated Meta posts: signed JSON webhooks (statuses, messages, template updates) from worker threads."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
from typing import Any

import requests

from chalicelib.adapters.providers.whatsapp_cloud import HEADER_MEDIA  # Meta's media rules: the provider's
from devstack.meta_sim.model import MetaModel
from devstack.meta_sim.rules import SIGNATURE_HEADER

logger = logging.getLogger(__name__)


def sign(app_secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 as Meta computes it: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_signed(session: requests.Session, url: str, app_secret: str, payload: dict[str, Any], timeout: float) -> int:
    """POST one webhook as Meta does (compact JSON, signed); the answer's HTTP status."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    response = session.post(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(app_secret, body),
            "User-Agent": "facebookexternalua",
        },
        timeout=(2.0, timeout),
        allow_redirects=False,
    )
    _ = response.content  # drain, so the connection goes back to the pool
    return response.status_code


def fetch_header(session: requests.Session, kind: str, link: str) -> int | None:
    """GET a template's header media as Meta does before sending: None when it can be sent, else 131053."""
    types, most = HEADER_MEDIA.get(kind, (frozenset(), 0))
    try:
        with session.get(link, timeout=10, stream=True) as response:
            media_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if response.status_code != 200 or media_type not in types:
                return 131053
            size = 0
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > most:
                    return 131053
    except requests.RequestException as exc:
        logger.info("header media %s could not be fetched: %s", link, exc)
        return 131053
    return None


def merged(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """Several status webhooks of one WABA as one: statuses of one number in one value, as Meta batches them."""
    first = copy.deepcopy(payloads[0])
    changes = first["entry"][0]["changes"]
    for payload in payloads[1:]:
        value = payload["entry"][0]["changes"][0]["value"]
        same = next((c for c in changes if c["value"].get("metadata") == value.get("metadata")), None)
        if same is None:
            changes.append(copy.deepcopy(payload["entry"][0]["changes"][0]))
        else:
            same["value"]["statuses"].extend(value.get("statuses", []))
    return first


def work(model: MetaModel, timeout: float) -> None:
    """A webhook worker thread: post each webhook as it comes due (retrying a failed one), until the model stops."""
    session = requests.Session()
    session.trust_env = False
    try:
        while (job := model.take_job()) is not None:
            jobs = [job]
            try:
                header = model.pending_header(job)
                if header is not None:
                    model.header_fetched(job, fetch_header(session, *header))
                jobs += model.take_batch(job)
                parts = [(j, d) for j, d in ((j, model.delivery(j)) for j in jobs) if d is not None]
                if not parts:
                    continue
                url, secret, _ = parts[0][1]
                payload = merged([d[2] for _, d in parts]) if len(parts) > 1 else parts[0][1][2]
                ok, posted = True, False
                if url:
                    posted = True
                    try:
                        # Meta retries a webhook that was not answered 200 (we retry a few times, with backoff).
                        ok = post_signed(session, url, secret, payload, timeout) == 200
                    except requests.RequestException as exc:
                        logger.info("meta webhook to %s failed: %s", url, exc)
                        ok = False
                for part, _ in parts:
                    model.finish(part, ok, posted)
                if ok and posted:
                    model.replay_later([part for part, _ in parts], payload)
            except Exception:  # a worker must survive anything
                logger.exception("meta webhook job failed")
            finally:
                model.job_done(len(jobs))
    finally:
        session.close()
