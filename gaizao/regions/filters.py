import django_filters
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gaizao.core.errors import ErrorCode, ServiceError
from gaizao.core.filtering import FilterSet, StrictBooleanFilter

from .models import Region, RegionLevel


class RegionCodeFilter(django_filters.CharFilter):
    """Filter by a region code that must exist; an unknown code is a 400 with code `unknown_region`."""

    def __init__(self, *args, lookup: str, **kwargs):
        self.region_lookup = lookup
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        value = value.strip()
        if not Region.objects.filter(code=value).exists():
            raise ServiceError(ErrorCode.UNKNOWN_REGION, _("No region has the code %(code)s.") % {"code": value},
                               fields={self.field_name: [_("unknown region code")]})
        return qs.filter(**{self.region_lookup: value})


class RegionFilter(FilterSet):
    level = django_filters.ChoiceFilter(choices=RegionLevel.choices, empty_label=gettext_lazy("All"))
    parent = RegionCodeFilter(lookup="parent__code")
    within = RegionCodeFilter(lookup="code__startswith", label=gettext_lazy("Within region (code)"))
    is_active = StrictBooleanFilter()
    search = django_filters.CharFilter(method="filter_search", label=gettext_lazy("Name or code"))

    class Meta:
        model = Region
        fields = ["level", "parent", "within", "is_active", "search"]

    def filter_search(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(Q(name__contains=value) | Q(code__startswith=value))
