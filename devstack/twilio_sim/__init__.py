"""A real HTTP server that simulates Twilio's Messages API for the local stack and the tests.

It speaks ``/2010-04-01/Accounts/{AccountSid}/Messages.json`` (create, fetch, list) with HTTP Basic auth, answers
Twilio's error JSON, honours Twilio's magic test numbers, and posts signed status callbacks (``sent`` then
``delivered``/``undelivered``) from a small pool of worker threads.

Rates as Twilio plays them: a sender's excess is not refused but queued (201, ``queued``) and sent at the sender's
``mps`` (one segment per message), its ``sent`` callback when its turn comes; a message that would wait longer than
its ``ValidityPeriod`` (default: config ``queue_max_seconds``, 36000 s) is refused with 21611. More concurrent API
requests than an account may make (``account_concurrency``, default 100, or the account's own ``concurrency``) are
answered 429 20429. ``GET /sim/stats`` says each sender's queue (``senders``), ``duplicates`` and the faults
``injected``; rate-based faults (server errors, late answers, resets after accept, replayed callbacks, seeded) are
set with ``POST /sim/config`` or ``SIM_*`` variables for both providers (devstack/sim_faults.py).
An MMS (``MediaUrl``) is fetched before its first callback, as Twilio does; media Twilio could not send fails it.
Control endpoints under ``/sim/`` configure it and inject latency and failures; ``POST /sim/inbound`` makes it post
a signed incoming-message webhook, as Twilio would. The same server serves Meta's Graph API for WhatsApp under
``/graph/`` (devstack/meta_sim, ``TwilioSimulator.meta``).

WhatsApp as Twilio plays it: a number added with ``whatsapp=True`` sends and receives as ``whatsapp:+E164``; the
Content API (``GET content.twilio.com/v1/ContentAndApprovals``, paged; templates added with ``POST /sim/contents``,
their approval moved with ``POST /sim/contents/status``) backs ``ContentSid`` + ``ContentVariables`` sends, rendered
into the stored Body; WhatsApp messages are delivered then read, and the contract's WhatsApp test numbers fail (see
rules.py and content.py).

Parts: rules.py (Twilio's codes, limits, test numbers), content.py (the Content API), records.py and model.py
(the state and how a message moves), callbacks.py (what it posts and fetches), server.py (HTTP), __main__.py (the
CLI: ``python -m devstack.twilio_sim --port 8001``).
"""

from devstack.twilio_sim.server import TwilioSimulator

__all__ = ["TwilioSimulator"]
