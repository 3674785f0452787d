from django.contrib import admin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from .audit import audited_delete, record_change, snapshot
from .display import actor_text
from .models import AuditAction, AuditEntry, Job


class AuditedModelAdmin(admin.ModelAdmin):
    """Admin edits are writes like any other: recorded with actor, before and after."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
            super().save_model(request, obj, form, change)
            record_change(actor=request.user, obj=obj, action=AuditAction.UPDATE if change else AuditAction.CREATE,
                          before=before, after=snapshot(obj), verb="admin.save")

    def delete_model(self, request, obj):
        with transaction.atomic():
            audited_delete(actor=request.user, obj=obj, verb="admin.delete")

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audited_delete(actor=request.user, obj=obj, verb="admin.delete")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_display", "action", "verb", "object_type", "object_repr", "region_code", "request_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "actor_name", "request_id", "region_code"]

    @admin.display(description=_("actor"), ordering="actor_name")
    def actor_display(self, entry: AuditEntry) -> str:
        return actor_text(entry.actor_name)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "progress", "region", "created_by", "created_at"]
    list_filter = ["status", "kind"]
