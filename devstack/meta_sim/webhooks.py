"""What the simulated Meta posts: signed JSON webhooks (statuses, messages, template updates) from worker threads."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import requests

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


def work(model: MetaModel, timeout: float) -> None:
    """A webhook worker thread: post each webhook as it comes due (retrying a failed one), until the model stops."""
    session = requests.Session()
    session.trust_env = False
    try:
        while (job := model.take_job()) is not None:
            try:
                what = model.delivery(job)
                if what is None:
                    continue
                url, secret, payload = what
                ok, posted = True, False
                if url:
                    posted = True
                    try:
                        # Meta retries a webhook that was not answered 200 (we retry a few times, with backoff).
                        ok = post_signed(session, url, secret, payload, timeout) == 200
                    except requests.RequestException as exc:
                        logger.info("meta webhook to %s failed: %s", url, exc)
                        ok = False
                model.finish(job, ok, posted)
            except Exception:  # a worker must survive anything
                logger.exception("meta webhook job failed")
            finally:
                model.job_done()
    finally:
        session.close()
