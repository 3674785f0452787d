"""Audit entries as people read them (the history pages and the audit list): each changed field by its
model field's verbose name, choice values by their labels, related objects by name, lists and
mappings as text, the verb in words and the object type by its model's name. The stored entries, and the
API that returns them, keep the raw data."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import capfirst

from .audit import field_display, verb_label
from .display import EMPTY, actor_text, is_empty, plain_text
from .models import AuditEntry


@dataclass(frozen=True)
class Change:
    name: str  # the stored key
    label: str  # the field's verbose name, else the key
    old: str
    new: str


def describe_entries(entries) -> list[AuditEntry]:
    """The entries (one page of them), each given `changes`, `verb_text`, `object_type_text` and
    `actor_text`. Related objects are named with one query per related model for the whole page."""
    entries = list(entries)
    fields_of: dict[type | None, dict[str, models.Field]] = {}
    pending = []
    wanted: dict[type, set] = defaultdict(set)
    for entry in entries:
        model = entry.object_type.model_class()
        if model not in fields_of:
            fields_of[model] = _fields_by_key(model)
        changed = [(key, fields_of[model].get(key), old, new) for key, old, new in entry.changed_fields
                   if not (is_empty(old) and is_empty(new))]
        for _key, field, old, new in changed:
            if field is not None and field.is_relation:
                wanted[field.related_model].update(_ids(old) + _ids(new))
        pending.append((entry, model, changed))
    names = {model: _names(model, ids) for model, ids in wanted.items()}
    for entry, model, changed in pending:
        label = model._meta.label_lower if model is not None else ""
        entry.changes = [
            Change(name=key, label=capfirst(str(field.verbose_name)) if field is not None else key,
                   old=_value_text(label, key, field, old, names), new=_value_text(label, key, field, new, names))
            for key, field, old, new in changed]
        verb = verb_label(entry.verb) if entry.verb else ""
        entry.verb_text = "" if verb == str(entry.get_action_display()) else verb  # 登录 · 登录 says it twice
        entry.object_type_text = (capfirst(str(model._meta.verbose_name)) if model is not None
                                  else f"{entry.object_type.app_label}.{entry.object_type.model}")
        entry.actor_text = actor_text(entry.actor_name)
    return entries


def _fields_by_key(model) -> dict[str, models.Field]:
    """A snapshot names concrete fields by attname (`region_id`) and many-to-many fields by name."""
    if model is None:
        return {}
    fields: dict[str, models.Field] = {}
    for field in model._meta.concrete_fields:
        fields[field.attname] = field
        fields.setdefault(field.name, field)
    for field in model._meta.many_to_many:
        fields[field.name] = field
    return fields


def _ids(value) -> list:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, int | str) and not isinstance(v, bool) and v != ""]


def _names(model, ids) -> dict[str, str]:
    """{str(pk): str(obj)} of the related objects that still exist."""
    pks = []
    for value in ids:
        try:
            pks.append(model._meta.pk.to_python(value))
        except (ValidationError, TypeError, ValueError):
            continue
    pks = [pk for pk in pks if not isinstance(pk, int) or abs(pk) < 2 ** 63]
    return {str(obj.pk): str(obj) for obj in model._base_manager.filter(pk__in=pks)} if pks else {}


def _value_text(model_label: str, key: str, field, value, names: dict) -> str:
    display = field_display(model_label, key)
    if is_empty(value):
        return EMPTY
    if display is not None:
        return display(value)
    if field is None:
        return plain_text(value)
    if field.is_relation:
        known = names.get(field.related_model, {})
        return plain_text([known.get(str(v), f"#{v}") for v in (value if isinstance(value, list) else [value])])
    if field.flatchoices:
        labels = {str(k): v for k, v in field.flatchoices}
        return str(labels.get(str(value), value))
    return plain_text(value)  # a date and time (a DateTimeField, or inside a mapping or list) in local time
