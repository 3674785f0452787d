from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from gaizao.core.admin import AuditedModelAdmin
from gaizao.core.errors import ServiceError

from .models import Membership, Organisation, User
from .services import check_role_place


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["region", "organisation"]
    can_delete = False

    def has_change_permission(self, request, obj=None):
        # Roles are granted and revoked through the membership admin, which audits each change.
        return False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    list_display = ["username", "display_name", "is_active", "is_staff", "last_login"]
    fieldsets = DjangoUserAdmin.fieldsets + ((None, {"fields": ("display_name", "phone")}),)
    inlines = [MembershipInline]


@admin.register(Organisation)
class OrganisationAdmin(AuditedModelAdmin):
    list_display = ["name", "kind", "department", "region"]
    list_filter = ["kind", "department"]
    search_fields = ["name"]
    autocomplete_fields = ["region"]


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "role", "region", "organisation", "is_active"]

    def clean(self):
        data = super().clean()
        try:
            check_role_place(data.get("role"), data.get("region"), data.get("organisation"))
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from None
        return data


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin):
    form = MembershipForm
    list_display = ["user", "role", "region", "organisation", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__username", "region__name", "organisation__name"]
    autocomplete_fields = ["user", "region", "organisation"]
