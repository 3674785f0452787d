"""Whole numbers from request parameters and form keys, which anyone can type."""

from __future__ import annotations

# at most 18 digits: any such number fits the 64-bit integer columns of both databases
MAX_DIGITS = 18


def whole_number(text, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The number written with 1 to `max_digits` ASCII digits, else None. `str.isdigit` accepts '²',
    which `int` refuses, and `int` accepts numbers too large for a database column."""
    if not isinstance(text, str) or not 0 < len(text) <= max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)
