"""Stored data (an audit entry's before and after, a job's result) in words people read: numbers with
thousands separators, yes/no, lists and mappings as text, never a Python repr."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

EMPTY = "—"
# the actor name of changes made by no one (imports from the command line, cleanups)
SYSTEM_ACTOR = "system"
# a date and time as stored JSON keeps them (isoformat): 2026-12-03T19:58:22.831260+00:00
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?")
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


def actor_text(actor_name: str) -> str:
    """An audit entry's stored actor name as people read it: the system's in words (系统)."""
    return _("System") if actor_name == SYSTEM_ACTOR else actor_name


def datetime_text(value: str) -> str | None:
    """A stored ISO date and time in local time, Y-m-d H:i; None when `value` is not one."""
    if not ISO_DATETIME.fullmatch(value):
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:  # well formed but no real time (month 13)
        return None
    if moment is None:
        return None
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return formats.date_format(moment, "Y-m-d H:i")


def plain_text(value, *, depth: int = 0) -> str:
    """Any JSON-like value as one line of text; a date and time (as stored, ISO) in local time."""
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
    if isinstance(value, str):
        return _shorten(datetime_text(value) or value)
    return _shorten(str(value))


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
