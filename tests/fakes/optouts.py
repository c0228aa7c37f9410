"""A fake of the OptOuts port."""

from __future__ import annotations


class FakeOptOuts:
    """A tenant's opt-out list in a dict."""
