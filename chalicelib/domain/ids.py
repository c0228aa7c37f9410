"""Limits every id shares: ids are opaque strings, but bounded so that a looked-up id always fits a table key."""

from __future__ import annotations

# Ids are opaque; ours are ~30 characters. The bound keeps a looked-up id within DynamoDB's key size (a sort key is at
# most 1024 bytes): a longer one would be refused by DynamoDB as a 500 instead of by us as a 400.
MAX_ID_CHARS = 128
