"""API: plans (list, detail, workflow steps), targets, monthly progress and dashboard figures.

Lists subclass `ScopedListApi`; single objects and figures go through `restrict()` in the selectors,
so the API sees exactly what the pages see.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from gaizao.accounts.scoping import scope_for
from gaizao.core.api import ErrorSerializer
from gaizao.core.scoped_api import ScopedListApi

from . import selectors, services, workflow
from .filters import PlanFilter, ProgressReportFilter
from .models import ActionPlan, PlanEvent, PlanItem, ProgressReport
from .targets import targets_by_county


class PlanOutputSerializer(serializers.ModelSerializer):
    county = serializers.SlugRelatedField(slug_field="code", read_only=True)
    county_name = serializers.CharField(source="county.name", read_only=True)
    period = serializers.CharField(source="period.label", read_only=True)
    previous = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = ActionPlan
        fields = ["id", "county", "county_name", "period", "version", "status", "adjustment_reason", "previous",
                  "created_at", "updated_at", "submitted_at", "approved_at"]


class PlanItemOutputSerializer(serializers.ModelSerializer):
    estate = serializers.SlugRelatedField(slug_field="code", read_only=True)
    project = serializers.SlugRelatedField(slug_field="code", read_only=True)
    name = serializers.SerializerMethodField()

    class Meta:
        model = PlanItem
        fields = ["id", "estate", "project", "name", "year", "planned_start", "planned_finish", "content_classes",
                  "estates_count", "households", "floor_area", "estimated_investment_wan", "estimate_source",
                  "is_model", "note"]

    def get_name(self, item) -> str:
        return item.estate.name if item.estate_id else item.project.name


class PlanEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanEvent
        fields = ["id", "transition", "from_status", "to_status", "actor_name", "role", "comment", "at"]


class CheckOutputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    year = serializers.IntegerField()
    measure = serializers.CharField()
    share_pct = serializers.CharField()
    task = serializers.CharField()
    required = serializers.CharField()
    planned = serializers.CharField()
    meets = serializers.BooleanField()
    shortfall = serializers.CharField()
    actual = serializers.CharField(allow_null=True)
    note = serializers.CharField()


class PlanDetailOutputSerializer(PlanOutputSerializer):
    items = PlanItemOutputSerializer(many=True, read_only=True)
    events = PlanEventOutputSerializer(many=True, read_only=True)
    checks = serializers.SerializerMethodField()
    by_year = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()

    class Meta(PlanOutputSerializer.Meta):
        fields = [*PlanOutputSerializer.Meta.fields, "by_year", "checks", "steps", "events", "items"]

    def _figures(self, plan):
        cache = self.context.setdefault("figures", {})
        if plan.pk not in cache:
            cache[plan.pk] = selectors.plan_checks(plan)
        return cache[plan.pk]

    def get_checks(self, plan) -> list[dict]:
        return [c.as_dict() for c in self._figures(plan).checks]

    def get_by_year(self, plan) -> dict:
        return self._figures(plan).as_dict()["by_year"]

    def get_steps(self, plan) -> list[str]:
        request = self.context.get("request")
        if request is None:
            return []
        return [s.name for s in workflow.steps_open_to(scope_for(request.user), plan.status, plan.county.code)]


class PlanListApi(ScopedListApi):
    """Action plans of the caller's counties (every version)."""

    serializer_class = PlanOutputSerializer
    filterset_class = PlanFilter

    def base_queryset(self):
        return ActionPlan.objects.select_related("county", "period").order_by("county__code", "period__start_year",
                                                                             "-version")


class PlanDetailApi(APIView):
    """One plan with its items, its targets (met or missed, by how much), steps open to the caller and history."""

    @extend_schema(responses={200: PlanDetailOutputSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        plan = selectors.plan_get(request.user, pk, detail=True)
        return Response(PlanDetailOutputSerializer(plan, context={"request": request}).data)


class TransitionInputSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=[s.name for s in workflow.STEPS])
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class PlanTransitionsApi(APIView):
    """GET: the plan's workflow history. POST {step, comment}: take a step (submit, return, city_approve,
    province_return, approve); who may take which is the workflow table."""

    @extend_schema(responses={200: PlanEventOutputSerializer(many=True), 404: ErrorSerializer})
    def get(self, request, pk: int):
        plan = selectors.plan_get(request.user, pk)
        return Response(PlanEventOutputSerializer(plan.events.all(), many=True).data)

    @extend_schema(request=TransitionInputSerializer,
                   responses={200: PlanOutputSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                              404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request, pk: int):
        plan = selectors.plan_get(request.user, pk)
        data = TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = services.plan_transition(actor=request.user, plan=plan, step=data.validated_data["step"],
                                        comment=data.validated_data.get("comment", ""))
        return Response(PlanOutputSerializer(plan).data)


REGION_PARAM = OpenApiParameter("region", OpenApiTypes.STR, description="region code (default: your own)")
PERIOD_PARAM = OpenApiParameter("period", OpenApiTypes.STR, description="plan period, e.g. 2020-2022")
MONTH_PARAM = OpenApiParameter("month", OpenApiTypes.STR, description="YYYY-MM (default: latest reported)")


class TargetListApi(APIView):
    """The target rule in force for each county of the region and each county's checks against its plan."""

    @extend_schema(parameters=[REGION_PARAM, PERIOD_PARAM], responses={200: OpenApiTypes.OBJECT,
                                                                       404: ErrorSerializer})
    def get(self, request):
        period = selectors.period_from_param(request.query_params.get("period"))
        region = selectors.region_from_param(request.user, request.query_params.get("region"))
        counties = list(selectors.counties_in(request.user, region))
        rules = targets_by_county([c.code for c in counties])
        figures = selectors.county_figures(counties, period)
        out = []
        for c in counties:
            t = rules[c.code]
            f = figures[c.code]
            out.append({
                "county": c.code, "name": c.name, "rule_from": t.source_region or "default", "measure": t.measure,
                "milestones": [{"year": y, "share_pct": str(float(s) * 100)} for y, s in
                               t.by_year(period.start_year, period.end_year).items()],
                "task": None if t.task is None else str(t.task), "model_estates_min": t.model_estates_min,
                "model_estate_deadline": t.model_estate_deadline.isoformat(), "report_due_day": t.report_due_day,
                "plan": f.plan.pk if f.plan else None, "plan_status": f.plan.status if f.plan else None,
                "meets_all": f.meets_all, "checks": [k.as_dict() for k in f.checks]})
        return Response({"region": region.code, "period": period.label, "counties": out})


class ProgressReportOutputSerializer(serializers.ModelSerializer):
    county = serializers.SlugRelatedField(slug_field="code", read_only=True)
    county_name = serializers.CharField(source="county.name", read_only=True)
    month = serializers.DateField(format="%Y-%m")
    figures = serializers.SerializerMethodField()

    class Meta:
        model = ProgressReport
        fields = ["id", "county", "county_name", "month", "status", "plan", "submitted_at", "figures"]

    def get_figures(self, report) -> dict | None:
        summary = getattr(report, "summary", None)
        if summary is None:
            return None
        return {k: str(getattr(summary, k)) for k in selectors.SUM_FIELDS}


class ProgressListApi(ScopedListApi):
    """Monthly progress reports of the caller's counties, with the locked figures of submitted ones."""

    serializer_class = ProgressReportOutputSerializer
    filterset_class = ProgressReportFilter

    def base_queryset(self):
        return ProgressReport.objects.select_related("county", "summary").order_by("-month", "county__code")


class ProgressRollupApi(APIView):
    """Start and completion figures of a month by sub-region (or by county with by=county), and the monthly
    rates over the period."""

    @extend_schema(parameters=[REGION_PARAM, PERIOD_PARAM, MONTH_PARAM,
                               OpenApiParameter("by", OpenApiTypes.STR, enum=["child", "county"])],
                   responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request):
        period = selectors.period_from_param(request.query_params.get("period"))
        region = selectors.region_from_param(request.user, request.query_params.get("region"))
        month = selectors.month_from_param(request.query_params.get("month"), period, request.user, region)
        by = request.query_params.get("by", "child")
        if by not in ("child", "county"):
            by = "child"
        rollup = selectors.progress_rollup(request.user, region, month, by=by)
        series = selectors.progress_series(request.user, region, period)
        return Response({
            "region": region.code, "month": month.strftime("%Y-%m"), "by": by,
            "total": rollup["total"].as_dict(), "rows": [r.as_dict() for r in rollup["rows"]],
            "monthly": selectors.monthly_data(series),
            "flags": selectors.flags_data(selectors.reporting_flags(request.user, region, month)),
        })


class DashboardApi(APIView):
    """Every figure of the dashboard of a region (the same selector the page and the export use)."""

    @extend_schema(parameters=[REGION_PARAM, PERIOD_PARAM, MONTH_PARAM,
                               OpenApiParameter("measure", OpenApiTypes.STR,
                                                enum=["estates", "households", "floor_area"])],
                   responses={200: OpenApiTypes.OBJECT, 400: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request):
        period = selectors.period_from_param(request.query_params.get("period"))
        region = selectors.region_from_param(request.user, request.query_params.get("region"))
        month = selectors.month_from_param(request.query_params.get("month"), period, request.user, region)
        d = selectors.dashboard(request.user, region, period, month,
                                measure=request.query_params.get("measure") or None)
        return Response(selectors.dashboard_data(d))
