"""Stored data (an audit entry's before and after, a job's result) in words people read: numbers with
thousands separators, yes/no, lists and mappings as text, never a Python repr."""

from __future__ import annotations

import math
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

EMPTY = "—"
# a list longer than this is counted, not spelled out (a census import's errors, a preview)
MAX_LIST_ITEMS = 10
MAX_TEXT = 300


def is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def number_text(value: int | float | Decimal) -> str:
    """1234567 → 1,234,567; 514540.8937 → 514,540.89; 0.0041 → 0.0041; 16.80 → 16.8; 1999 → 1999
    (four digits stay ungrouped: they are mostly years)."""
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float) and not (math.isfinite(value) and abs(value) < 10 ** 15):
        return f"{value:.6g}"
    grouping = "," if abs(value) >= 10_000 else ""
    if isinstance(value, int) or value == int(value) and abs(value) < 10 ** 15:
        return f"{int(value):{grouping}}"
    if abs(value) >= 100:
        return f"{value:{grouping}.2f}"
    return f"{value:.4f}".rstrip("0").rstrip(".")


def yes_no(value: bool) -> str:
    return _("Yes") if value else _("No")


def plain_text(value, *, depth: int = 0) -> str:
    """Any JSON-like value as one line of text."""
    if is_empty(value):
        return EMPTY
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, int | float | Decimal):
        return number_text(value)
    if isinstance(value, list | tuple):
        if len(value) > MAX_LIST_ITEMS:
            return _("%(n)s items") % {"n": number_text(len(value))}
        separator = pgettext("separator between list items", ", ")
        return _shorten(separator.join(plain_text(v, depth=depth + 1) for v in value))
    if isinstance(value, dict):
        if len(value) > MAX_LIST_ITEMS:
            return _("%(n)s items") % {"n": number_text(len(value))}
        pairs = pgettext("separator between key-value pairs", "; ").join(
            _("%(key)s: %(value)s") % {"key": key, "value": plain_text(item, depth=depth + 1)}
            for key, item in value.items())
        return _shorten(pairs if depth == 0 else pgettext("a nested mapping", "(%(pairs)s)") % {"pairs": pairs})
    return _shorten(str(value))


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
