"""Routes of the tenant itself (`GET|PATCH /v1/tenant`: where its events go), on the API blueprint (app.py imports
this module before it registers the blueprint)."""

from __future__ import annotations
