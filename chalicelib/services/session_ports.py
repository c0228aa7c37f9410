"""The Sessions port (External Chat Logs): sessions, their one-open-per-contact lock and their chat logs.

Implemented by chalicelib/adapters/dynamo/sessions.py and tests/fakes/sessions.py (contract test on both).
Stored layout (the events worker reads these items from the table's stream; keep the keys and `kind`):

    TENANT#{tid}   SESSION#{sid}            kind=session: session_id, tenant_id, channel_id, sender, contact,
                                            routing_target, status, origin, campaign_id, created_at,
                                            last_message_at, closed_at
    SESSION#{sid}  MSG#{at}#{message_id}    kind=session_message: tenant_id, session_id, message_id, direction,
                                            contact, text, media, template, status, campaign_id,
                                            provider_message_id, at
"""

from __future__ import annotations

from typing import Protocol


class Sessions(Protocol):
    """Sessions and their chat logs."""
