"""A fake of the Sessions port."""

from __future__ import annotations


class FakeSessions:
    """Sessions and chat logs in dicts."""
