"""Routes of sessions (External Chat Logs) and the opt-out list, on the API blueprint (app.py imports this module
before it registers the blueprint)."""

from __future__ import annotations
