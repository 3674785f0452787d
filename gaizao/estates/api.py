"""The estates API: list and detail with the list page's filters, and the pool actions."""

from __future__ import annotations

from collections import OrderedDict

from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from gaizao.core.api import ErrorSerializer, Pagination
from gaizao.core.errors import NotFoundError
from gaizao.core.scoped_api import ScopedDetailApi, ScopedListApi

from . import selectors, services
from .filters import EstateFilter
from .models import Building, Estate, RenovationProject
from .rules import reasons_text


def _dec(value):
    return None if value is None else str(value)


class EstateOutputSerializer(serializers.ModelSerializer):
    """One estate in a list. Written by hand in `to_representation` (50 rows must serialise in well under
    a millisecond); the declared fields describe it for the schema."""

    region = serializers.CharField(source="region.code", help_text="code of the street or community")
    region_name = serializers.CharField(source="region.name")
    county = serializers.CharField(source="county.code")
    county_name = serializers.CharField(source="county.name")
    eligibility_reasons = serializers.ListField(child=serializers.CharField(), help_text="the reasons in words")
    project = serializers.CharField(source="project.code", allow_null=True)
    url = serializers.CharField()

    class Meta:
        model = Estate
        fields = ["id", "code", "name", "address", "region", "region_name", "county", "county_name", "built_year",
                  "buildings", "households", "floor_area", "housing_type", "in_shantytown_plan",
                  "in_historic_district", "has_precast_slab_hazard", "management_mode", "max_floors",
                  "buildings_with_elevator", "willingness", "longitude", "latitude", "eligibility",
                  "eligibility_reasons", "rebuild_route", "priority_score", "county_rank", "status", "status_reason",
                  "pool_year", "project", "url"]

    def to_representation(self, e: Estate) -> dict:
        values = {name: getattr(e, name) for name in ROW_FIELDS if "__" not in name}
        values.update({"id": e.pk, "region__code": e.region.code, "region__name": e.region.name,
                       "county__code": e.county.code, "county__name": e.county.name,
                       "project__code": e.project.code if e.project_id else None})
        return estate_row(values)


ROW_FIELDS = ("id", "code", "name", "address", "region__code", "region__name", "county__code", "county__name",
              "built_year", "buildings", "households", "floor_area", "housing_type", "in_shantytown_plan",
              "in_historic_district", "has_precast_slab_hazard", "management_mode", "max_floors",
              "buildings_with_elevator", "willingness", "longitude", "latitude", "eligibility", "eligibility_reasons",
              "rebuild_route", "priority_score", "county_rank", "status", "status_reason", "pool_year",
              "project__code")


def estate_row(v: dict) -> dict:
    """An estate as the API shows it, from a `.values(*ROW_FIELDS)` dict (no model instances)."""
    return {
        "id": v["id"], "code": v["code"], "name": v["name"], "address": v["address"],
        "region": v["region__code"], "region_name": v["region__name"],
        "county": v["county__code"], "county_name": v["county__name"],
        "built_year": v["built_year"], "buildings": v["buildings"], "households": v["households"],
        "floor_area": _dec(v["floor_area"]), "housing_type": v["housing_type"],
        "in_shantytown_plan": v["in_shantytown_plan"], "in_historic_district": v["in_historic_district"],
        "has_precast_slab_hazard": v["has_precast_slab_hazard"], "management_mode": v["management_mode"],
        "max_floors": v["max_floors"], "buildings_with_elevator": v["buildings_with_elevator"],
        "willingness": _dec(v["willingness"]), "longitude": _dec(v["longitude"]), "latitude": _dec(v["latitude"]),
        "eligibility": v["eligibility"], "eligibility_reasons": reasons_text(v["eligibility_reasons"]),
        "rebuild_route": v["rebuild_route"], "priority_score": _dec(v["priority_score"]),
        "county_rank": v["county_rank"], "status": v["status"], "status_reason": v["status_reason"],
        "pool_year": v["pool_year"], "project": v["project__code"], "url": f"/api/v1/estates/{v['id']}/",
    }


class BuildingOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Building
        fields = ["number", "floors", "units", "households", "has_elevator", "structure", "built_year"]


class EstateDetailOutputSerializer(EstateOutputSerializer):
    priority_breakdown = serializers.DictField()
    deficiencies = serializers.ListField(child=serializers.DictField())
    buildings_list = BuildingOutputSerializer(many=True, source="building_set")
    history_url = serializers.CharField()

    class Meta(EstateOutputSerializer.Meta):
        fields = [*EstateOutputSerializer.Meta.fields, "priority_breakdown", "deficiencies", "buildings_list",
                  "history_url"]

    def to_representation(self, e: Estate) -> dict:
        data = super().to_representation(e)
        data["priority_breakdown"] = e.priority_breakdown
        data["deficiencies"] = [{"code": i.code, "name": i.name, "content_class": i.content_class}
                                for i in e.deficiencies.all()]
        data["buildings_list"] = BuildingOutputSerializer(e.building_set.all(), many=True).data
        data["history_url"] = reverse("audit:history", args=["estates.estate", e.pk])
        return data


class EstatePagination(Pagination):
    """Counts come from the cached per-status counts, and the response carries them."""

    counts: dict | None = None  # set by the view when it counted the unsliced queryset itself

    def paginate_queryset(self, queryset, request, view=None):
        self._counts = self.counts if self.counts is not None else selectors.status_counts(queryset)
        total = self._counts["total"]

        class CountedPaginator(self.django_paginator_class):
            @property
            def count(self):  # noqa: D401 - the cached total
                return total

        self.django_paginator_class = CountedPaginator
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        counts = {k: v for k, v in self._counts.items() if k != "total"}
        return Response(OrderedDict([
            ("count", self.page.paginator.count), ("status_counts", counts), ("next", self.get_next_link()),
            ("previous", self.get_previous_link()), ("results", data)]))

    def get_paginated_response_schema(self, schema):
        body = super().get_paginated_response_schema(schema)
        body["properties"]["status_counts"] = {"type": "object", "additionalProperties": {"type": "integer"}}
        return body


@extend_schema(parameters=[OpenApiParameter("search", str, description="code prefix or part of the name")])
class EstateListApi(ScopedListApi):
    """Estates in the user's regions, with the list page's filters (`region` = a subtree by code)."""

    serializer_class = EstateOutputSerializer
    filterset_class = EstateFilter
    pagination_class = EstatePagination

    def base_queryset(self):
        return Estate.objects.order_by("code")

    def filter_queryset(self, queryset):
        # Without any filter parameter the filterset (a form built and validated per request) is skipped.
        if not any(key in self.request.query_params for key in EstateFilter.base_filters):
            return queryset
        return super().filter_queryset(queryset)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        self.paginator.counts = selectors.status_counts(queryset)
        page = self.paginate_queryset(queryset.values(*ROW_FIELDS))
        return self.get_paginated_response([estate_row(v) for v in page])


def _detail_queryset():
    return Estate.objects.select_related("region", "county", "project").prefetch_related(
        "deficiencies", "building_set")


class EstateDetailApi(ScopedDetailApi):
    """One estate with its score breakdown, deficiencies and buildings."""

    serializer_class = EstateDetailOutputSerializer

    def base_queryset(self):
        return _detail_queryset()


# ---------------------------------------------------------------------------------------------
# pool actions


class YearInputSerializer(serializers.Serializer):
    year = serializers.IntegerField()


class DeferInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)
    to_year = serializers.IntegerField(required=False, allow_null=True)


class DropInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class BulkAdmitInputSerializer(serializers.Serializer):
    estates = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=10_000)
    year = serializers.IntegerField()


class MergeInputSerializer(serializers.Serializer):
    estates = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=200)
    name = serializers.CharField(max_length=128)


class ProjectOutputSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region.code")
    county = serializers.CharField(source="county.code")
    estates = serializers.SerializerMethodField()

    class Meta:
        model = RenovationProject
        fields = ["id", "code", "name", "region", "county", "is_active", "estates"]

    def get_estates(self, project) -> list[str]:
        return list(project.estates.order_by("code").values_list("code", flat=True))


class _EstateActionApi(APIView):
    input_serializer = YearInputSerializer

    def act(self, request, estate, data):
        raise NotImplementedError

    def post(self, request, pk: int):
        estate = selectors.estate_changeable(user=request.user, pk=pk)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.act(request, estate, serializer.validated_data)
        # the estate after the action, read again through the user's scope like the first lookup
        fresh = selectors.estates_for(request.user).select_related("region", "county", "project").prefetch_related(
            "deficiencies", "building_set").filter(pk=estate.pk).first()
        if fresh is None:
            raise NotFoundError()
        return Response(EstateDetailOutputSerializer(fresh).data)


_action_responses = {200: EstateDetailOutputSerializer, 400: ErrorSerializer, 404: ErrorSerializer}


class EstateAdmitApi(_EstateActionApi):
    """Admit a surveyed, eligible estate to the pool for a year."""

    @extend_schema(request=YearInputSerializer, responses=_action_responses)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, estate, data):
        services.estate_admit(actor=request.user, estate=estate, year=data["year"])


class EstateDeferApi(_EstateActionApi):
    """Defer a surveyed or pooled estate with a reason, optionally to a later year."""

    input_serializer = DeferInputSerializer

    @extend_schema(request=DeferInputSerializer, responses=_action_responses)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, estate, data):
        services.estate_defer(actor=request.user, estate=estate, reason=data["reason"], to_year=data.get("to_year"))


class EstateDropApi(_EstateActionApi):
    """Drop an estate with a reason."""

    input_serializer = DropInputSerializer

    @extend_schema(request=DropInputSerializer, responses=_action_responses)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, estate, data):
        services.estate_drop(actor=request.user, estate=estate, reason=data["reason"])


class EstateReadmitApi(_EstateActionApi):
    """Readmit a deferred or dropped estate in a later year."""

    @extend_schema(request=YearInputSerializer, responses=_action_responses)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, estate, data):
        services.estate_readmit(actor=request.user, estate=estate, year=data["year"])


class EstatesAdmitApi(APIView):
    """Admit many estates at once (all or nothing)."""

    @extend_schema(operation_id="v1_estates_admit_bulk", request=BulkAdmitInputSerializer,
                   responses={200: inline_serializer("BulkAdmitOutput", {"admitted": serializers.IntegerField()}),
                              400: ErrorSerializer, 404: ErrorSerializer})
    def post(self, request):
        serializer = BulkAdmitInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = selectors.estate_ids_changeable(user=request.user, ids=serializer.validated_data["estates"])
        n = services.estates_admit(actor=request.user, estates=ids, year=serializer.validated_data["year"])
        return Response({"admitted": n})


class EstatesMergeApi(APIView):
    """Merge adjacent estates of one county into a renovation project."""

    @extend_schema(request=MergeInputSerializer,
                   responses={201: ProjectOutputSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def post(self, request):
        serializer = MergeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            ids = selectors.estate_ids_changeable(user=request.user, ids=serializer.validated_data["estates"])
            project = services.estates_merge(actor=request.user, estates=ids, name=serializer.validated_data["name"])
        # the project as the service made it from the user's own estates (no second, unscoped read)
        return Response(ProjectOutputSerializer(project).data, status=status.HTTP_201_CREATED)
