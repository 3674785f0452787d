"""Recording changes. Services call `record_change` inside their transaction.

The history pages show an entry's verb and values in words; apps name theirs in `AppConfig.ready()`:
`register_verbs({"estates.admit": _("Admitted to the pool"), …})` and, for a stored value that reads
badly on its own (a list of rule codes, say), `register_field_display("estates.estate",
"eligibility_reasons", fn)`. Unnamed verbs are shown as they are stored.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable

from django.contrib.contenttypes.models import ContentType
from django.db import models

from .models import AuditAction, AuditEntry
from .request_context import current_request_id

_verb_labels: dict[str, str] = {}
_field_displays: dict[tuple[str, str], Callable[[object], str]] = {}


def register_verbs(labels: dict[str, str]) -> None:
    """Name audit verbs for people (`{"app.verb": gettext_lazy(…)}`); registering again replaces."""
    _verb_labels.update(labels)


def verb_label(verb: str) -> str:
    """The verb in words in the active language, else the stored verb itself."""
    label = _verb_labels.get(verb)
    return str(label) if label is not None else verb


def register_field_display(model_label: str, name: str, display: Callable[[object], str]) -> None:
    """Show the stored value of field or key `name` of `model_label` ("app.model") as `display(value)`."""
    _field_displays[(model_label.lower(), name)] = display


def field_display(model_label: str, name: str) -> Callable[[object], str] | None:
    return _field_displays.get((model_label, name))


def _plain(value):
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def snapshot(obj: models.Model, *, exclude: tuple[str, ...] = ("password",)) -> dict:
    """The concrete field values of `obj` as JSON-ready data (foreign keys by id)."""
    data = {}
    for f in obj._meta.concrete_fields:
        if f.name in exclude:
            continue
        data[f.attname] = _plain(getattr(obj, f.attname))
    for f in obj._meta.many_to_many:
        if obj.pk is not None:
            data[f.name] = sorted(_plain(pk) for pk in getattr(obj, f.name).values_list("pk", flat=True))
    return data


def record_change(
    *,
    actor,
    obj: models.Model,
    action: str,
    before: dict | None,
    after: dict | None,
    verb: str = "",
    cause: str = "",
    region_code: str | None = None,
) -> AuditEntry:
    if region_code is None:
        region_code = getattr(obj, "region_code", "") or ""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        actor_name=(getattr(actor, "username", "") or "system") if actor is not None else "system",
        request_id=current_request_id(),
        action=action,
        verb=verb,
        object_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        region_code=region_code,
        before=before,
        after=after,
        cause=cause[:200],
    )


def audited_create(*, actor, obj: models.Model, verb: str = "", cause: str = "") -> models.Model:
    obj.full_clean()
    obj.save()
    record_change(actor=actor, obj=obj, action=AuditAction.CREATE, before=None, after=snapshot(obj), verb=verb,
                  cause=cause)
    return obj


def audited_update(*, actor, obj: models.Model, changes: dict, verb: str = "", cause: str = "") -> bool:
    """Apply `changes` to `obj`; saves and audits only if something really changed."""
    before = snapshot(obj)
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.full_clean()
    after = snapshot(obj)
    if before == after:
        return False
    obj.save()
    record_change(actor=actor, obj=obj, action=AuditAction.UPDATE, before=before, after=after, verb=verb,
                  cause=cause)
    return True


def audited_delete(*, actor, obj: models.Model, verb: str = "", cause: str = "") -> None:
    before = snapshot(obj)
    region_code = getattr(obj, "region_code", "") or ""
    record_change(actor=actor, obj=obj, action=AuditAction.DELETE, before=before, after=None, verb=verb,
                  cause=cause, region_code=region_code)
    obj.delete()


def history_of(obj: models.Model):
    return AuditEntry.objects.filter(
        object_type=ContentType.objects.get_for_model(obj, for_concrete_model=True), object_id=str(obj.pk)
    ).select_related("actor")


def record_changes_bulk(*, actor, entries: list[tuple[models.Model, str, dict | None, dict | None]],
                        verb: str = "", cause: str = "") -> int:
    """Audit many changes in one insert (imports and loads): (obj, action, before, after) each."""
    if not entries:
        return 0
    request_id = current_request_id()
    actor_obj = actor if actor is not None and getattr(actor, "pk", None) else None
    actor_name = (getattr(actor, "username", "") or "system") if actor is not None else "system"
    content_types: dict[type, ContentType] = {}
    rows = []
    for obj, action, before, after in entries:
        model = obj._meta.concrete_model
        if model not in content_types:
            content_types[model] = ContentType.objects.get_for_model(model)
        rows.append(AuditEntry(
            actor=actor_obj, actor_name=actor_name, request_id=request_id, action=action, verb=verb,
            object_type=content_types[model], object_id=str(obj.pk), object_repr=str(obj)[:200],
            region_code=getattr(obj, "region_code", "") or "", before=before, after=after, cause=cause[:200],
        ))
    AuditEntry.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
