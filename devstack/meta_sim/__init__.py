"""Meta's Graph API for WhatsApp, simulated: mounted under `/graph/` in the provider simulator (devstack/twilio_sim).

It speaks `POST /graph/v21.0/{phone-number-id}/messages` (Bearer token; templates checked as Meta does: 132001
unknown or not approved, 132000 wrong parameter count, 132012 wrong format, 132015 paused, 132016 disabled; 130429
(HTTP 400, as Meta answers it) beyond the number's throughput, 131056 for a second message to one user within 6 s;
190 for a wrong token) and
`GET /graph/v21.0/{waba-id}/message_templates` (paged with `limit` and `after`). It posts signed webhooks
(`X-Hub-Signature-256`) to each WABA's webhook URL: statuses sent -> delivered -> read with conversation and pricing
and the biz_opaque_callback_data echoed; the contract's test numbers fail in a `failed` status (as Meta reports
them); inbound messages (`POST /sim/inbound` to a business number) and template status updates
(`POST /sim/templates/{name}/status`). The shared rate-based faults (devstack/sim_faults.py) reach it as `graph_*`
options (a plain `server_error_rate`... posted to /sim/config sets both providers); its stats say each number's
sends (`senders`, by phone number id), `duplicates` and the faults `injected`.

Parts: rules.py (codes, shapes), model.py (state), webhooks.py (what it posts), http.py (the routes and the
MetaSimulator the provider simulator mounts), sandbox.py (the local stack's sandbox WABA and templates).
"""

from devstack.meta_sim.http import MetaSimulator

__all__ = ["MetaSimulator"]
