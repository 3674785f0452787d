import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import ErrorCode, ServiceError
from .filtering import FilterSet
from .models import AuditAction, AuditEntry


class AuditFilter(FilterSet):
    object_type = django_filters.CharFilter(method="filter_object_type", label=gettext_lazy("Object type (app.model)"))
    object_id = django_filters.CharFilter()
    actor = django_filters.CharFilter(field_name="actor_name")
    action = django_filters.ChoiceFilter(choices=AuditAction.choices, empty_label=gettext_lazy("All"))
    request_id = django_filters.CharFilter()
    # labels of their own: django-filter's default adds its English lookup words ("区划代码 starts with")
    region = django_filters.CharFilter(field_name="region_code", lookup_expr="startswith",
                                       label=gettext_lazy("Region code starts with"))
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte", label=gettext_lazy("Time from"),
                                             widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt", label=gettext_lazy("Time until"),
                                             widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    class Meta:
        model = AuditEntry
        fields = ["object_type", "object_id", "actor", "action", "request_id", "region", "since", "until"]

    def filter_object_type(self, qs, name, value):
        app_label, _dot, model = value.strip().lower().partition(".")
        try:
            content_type = ContentType.objects.get_by_natural_key(app_label, model)
        except ContentType.DoesNotExist:
            raise ServiceError(ErrorCode.INVALID, _("Unknown object type %(type)s; use app.model, e.g. regions.region")
                               % {"type": value}, fields={"object_type": [_("unknown object type")]}) from None
        return qs.filter(object_type=content_type)
