"""Filtersets shared by the plan pages and the API."""

import django_filters
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gaizao.core.errors import ErrorCode, ServiceError
from gaizao.core.filtering import FilterSet
from gaizao.regions.filters import RegionCodeFilter

from . import optimiser
from .models import ActionPlan, PlanStatus, ProgressReport, ReportStatus
from .selectors import REGION_CODE


class PeriodFilter(django_filters.CharFilter):
    """A period as YYYY-YYYY; malformed is a 400."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        try:
            start, end = optimiser.parse_period(value)
        except ValueError:
            raise ServiceError(ErrorCode.PLAN_PERIOD_INVALID, _("Give the period as YYYY-YYYY, e.g. 2020-2022."),
                               fields={"period": [_("unknown period")]}) from None
        return qs.filter(**{f"{self.field_name}__start_year": start, f"{self.field_name}__end_year": end})


class SafeRegionCodeFilter(RegionCodeFilter):
    """A region code filter that refuses anything but digits before it reaches the database."""

    def filter(self, qs, value):
        if value not in (None, "") and not REGION_CODE.match(str(value).strip()):
            raise ServiceError(ErrorCode.UNKNOWN_REGION, _("No region has the code %(code)s.") % {"code": str(value)[:20]},
                               fields={self.field_name: [_("unknown region code")]})
        return super().filter(qs, value)


class PlanFilter(FilterSet):
    period = PeriodFilter(field_name="period", label=gettext_lazy("Period (YYYY-YYYY)"))
    status = django_filters.ChoiceFilter(choices=PlanStatus.choices)
    within = SafeRegionCodeFilter(lookup="county__code__startswith", label=gettext_lazy("Within region (code)"))
    county = SafeRegionCodeFilter(lookup="county__code", label=gettext_lazy("County (code)"))

    class Meta:
        model = ActionPlan
        fields = ["period", "status", "within", "county"]


class MonthFilter(django_filters.CharFilter):
    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        from .services import month_start

        return qs.filter(month=month_start(value))


class ProgressReportFilter(FilterSet):
    month = MonthFilter(label=gettext_lazy("Month (YYYY-MM)"))
    status = django_filters.ChoiceFilter(choices=ReportStatus.choices)
    within = SafeRegionCodeFilter(lookup="county__code__startswith", label=gettext_lazy("Within region (code)"))

    class Meta:
        model = ProgressReport
        fields = ["month", "status", "within"]
