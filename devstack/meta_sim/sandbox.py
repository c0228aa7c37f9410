"""The local stack's sandbox WABA at the simulator (API.md, Local stack): one number, the contract's five templates."""

from __future__ import annotations

from typing import Any

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
SENDER = "+15550100001"
MPS = 80
# The Sandbox WhatsApp channel's credentials (the local stack prints the app secret and verify token).
ACCESS_TOKEN = "EAAsandbox" + "0" * 24 + "5a4db0c5"
APP_SECRET = "5a4db0c5" * 4  # 32 hex digits, as Meta's app secrets
VERIFY_TOKEN = "sandbox-verify-token"

TEMPLATES: list[dict[str, Any]] = [
    {"name": "hello_world", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
     "body": "Hello World! Welcome and congratulations."},
    {"name": "order_update", "language": "en", "status": "APPROVED", "category": "UTILITY",
     "body": "Hi {{1}}, your order {{2}} has shipped."},
    {"name": "spring_promo", "language": "en", "status": "APPROVED", "category": "MARKETING", "header": "image",
     "body": "{{1}}", "buttons": ["Stop promotions"]},
    {"name": "promo_pending", "language": "en", "status": "PENDING", "category": "MARKETING",
     "body": "Our new offer is coming: {{1}}"},
    {"name": "old_offer", "language": "en", "status": "PAUSED", "category": "MARKETING",
     "body": "Last chance for {{1}}"},
]  # fmt: skip


def waba_spec(
    access_token: str = ACCESS_TOKEN, app_secret: str = APP_SECRET, webhook_url: str | None = None
) -> dict[str, Any]:
    """The sandbox WABA as `MetaSimulator.add_waba` (or `POST /sim/meta/wabas`) takes it."""
    return {
        "waba_id": WABA_ID,
        "access_token": access_token,
        "app_secret": app_secret,
        "webhook_url": webhook_url,
        "phone_numbers": [{"id": PHONE_NUMBER_ID, "display_phone_number": SENDER.lstrip("+"), "mps": MPS}],
        "templates": TEMPLATES,
    }
