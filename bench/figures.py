"""How every benchmark prints its figures: a title, one aligned line per figure, then what the figures mean."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def print_figures(title: str, figures: Mapping[str, Any], *, width: int, note: str = "") -> None:
    """Print `figures` under `title`: dicts as `k v` pairs, floats to three places, the rest as they are."""
    print(title)
    for key, value in figures.items():
        if isinstance(value, dict):
            print(f"  {key:{width}s} " + ", ".join(f"{k} {v}" for k, v in value.items()))
        elif isinstance(value, float):
            print(f"  {key:{width}s} {value:12.3f}")
        elif isinstance(value, int):
            print(f"  {key:{width}s} {value:12d}")
        else:
            print(f"  {key:{width}s} {value:>12s}")
    if note:
        print(note)
