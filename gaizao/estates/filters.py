"""The estate list's filters, shared by the pages, the map and the API."""

import django_filters
from django import forms
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from gaizao.core.filtering import FilterSet
from gaizao.regions.filters import RegionCodeFilter
from gaizao.regions.models import Region, RegionLevel

from .models import Eligibility, Estate, EstateStatus, HousingType, ManagementMode

SORTS = {
    "code": ("code",),
    "-code": ("-code",),
    "name": ("name", "code"),
    "-name": ("-name", "code"),
    "built_year": ("built_year", "code"),
    "-built_year": ("-built_year", "code"),
    "households": ("households", "code"),
    "-households": ("-households", "code"),
    "floor_area": ("floor_area", "code"),
    "-floor_area": ("-floor_area", "code"),
    "priority_score": ("priority_score", "code"),
    "-priority_score": ("-priority_score", "code"),
    # unranked estates (ineligible or dropped) last, on SQLite (where NULL sorts first) as on PostgreSQL
    "county_rank": ("county", F("county_rank").asc(nulls_last=True), "code"),
    "status": ("status", "code"),
}
SORT_LABELS = [
    ("code", _("Code")), ("name", _("Name")), ("-priority_score", _("Priority score, highest first")),
    ("county_rank", _("Rank in county")), ("built_year", _("Built year, oldest first")),
    ("-built_year", _("Built year, newest first")), ("-households", _("Households, most first")),
    ("status", _("Status")),
]


class EstateRegionFilter(RegionCodeFilter):
    """A region's subtree; a county or a city is matched on the estate's own `county` column, which the
    (county, score) and (county, status) indexes serve, instead of a prefix on the joined region code."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        code = value.strip()
        region = Region.objects.filter(code=code).only("pk", "level", "code").first()
        if region is None:
            return super().filter(qs, code)  # raises unknown_region
        if region.level == RegionLevel.PROVINCE:
            return qs.filter(county__code__startswith=code)
        if region.level == RegionLevel.COUNTY:
            return qs.filter(county_id=region.pk)
        if region.level == RegionLevel.CITY:
            return qs.filter(county__code__startswith=code)
        return qs.filter(region__code__startswith=code)


class EstateFilterForm(forms.Form):
    """The filters' form: a built-year range that ends before it starts is an error next to its fields (it
    gave an empty list without a word)."""

    def clean(self):
        data = super().clean()
        low, high = data.get("built_from"), data.get("built_to")
        if low is not None and high is not None and low > high:
            message = _("Built from (%(low)s) is after built until (%(high)s).") % {
                "low": f"{low:g}", "high": f"{high:g}"}
            self.add_error("built_to", message)
        return data


class EstateFilter(FilterSet):
    region = EstateRegionFilter(lookup="region__code__startswith", label=_("Within region (code)"))
    search = django_filters.CharFilter(method="filter_search", label=_("Code or name"))
    built_from = django_filters.NumberFilter(field_name="built_year", lookup_expr="gte", label=_("Built from"),
                                             widget=forms.NumberInput(attrs={"min": 1900, "max": 2100}))
    built_to = django_filters.NumberFilter(field_name="built_year", lookup_expr="lte", label=_("Built until"),
                                           widget=forms.NumberInput(attrs={"min": 1900, "max": 2100}))
    housing_type = django_filters.MultipleChoiceFilter(choices=HousingType.choices, label=_("Housing type"))
    eligibility = django_filters.MultipleChoiceFilter(choices=Eligibility.choices, label=_("Eligibility"))
    status = django_filters.MultipleChoiceFilter(choices=EstateStatus.choices, label=_("Status"))
    management_mode = django_filters.ChoiceFilter(choices=ManagementMode.choices, label=_("Management mode"))
    in_shantytown_plan = django_filters.BooleanFilter(label=_("In a shanty-town plan"))
    in_historic_district = django_filters.BooleanFilter(label=_("In a historic district"))
    has_precast_slab_hazard = django_filters.BooleanFilter(label=_("Precast slab hazard"))
    in_project = django_filters.BooleanFilter(field_name="project", lookup_expr="isnull", exclude=True,
                                              label=_("In a merged project"))
    pool_year = django_filters.NumberFilter(label=_("Pool year"))
    sort = django_filters.ChoiceFilter(choices=[(k, k) for k in SORTS], method="filter_sort", label=_("Sort"))

    class Meta:
        model = Estate
        form = EstateFilterForm
        fields = ["region", "search", "built_from", "built_to", "housing_type", "eligibility", "status",
                  "management_mode", "in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard",
                  "in_project", "pool_year", "sort"]

    def filter_search(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(Q(code__startswith=value) | Q(name__contains=value))

    def filter_sort(self, qs, name, value):
        return qs.order_by(*SORTS.get(value, ("code",)))


CHECKBOX_FILTERS = ("housing_type", "eligibility", "status")


def page_form(estate_filter: EstateFilter, *, region_choices: list[tuple[str, str]]) -> forms.Form:
    """The filter's form as the list and map pages show it; the filters themselves (and so the API) are
    unchanged. `region` becomes a drop-down of `region_choices` (still sent as `region=<code>`), the
    multiple-choice filters become checkbox groups (still sent as repeated parameters)."""
    form = estate_filter.form
    region = form.fields["region"]
    region.label = form["region"].label = _("Region")  # the bound field (made while validating) keeps a copy
    choices = [("", _("All")), *region_choices]
    current = (form.data.get("region") or "").strip()
    if current and current not in {code for code, _label in region_choices}:
        choices.append((current, current))  # unknown or out of scope: shown as asked (the form says what is wrong)
    region.widget = forms.Select(choices=choices, attrs={"class": "region-select"})
    for name in CHECKBOX_FILTERS:
        field = form.fields[name]
        field.widget = forms.CheckboxSelectMultiple(choices=field.choices)
    # a yes/no filter left open reads "All", not "Unknown" (which reads as "estates whose answer is unknown")
    for field in form.fields.values():
        if isinstance(field, forms.NullBooleanField):
            field.widget = forms.Select(choices=[("", _("All")), ("true", _("Yes")), ("false", _("No"))])
    form.fields["management_mode"].widget.choices = [("", _("All")), *ManagementMode.choices]
    return form
