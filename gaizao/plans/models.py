"""Plans (三年行动方案 / 年度计划), targets, unit costs, budgets, monthly progress and optimiser runs.

A county's action plan schedules pool estates (or merged projects) by year; city and province plans
are never typed in: they are roll-ups of the county plans in force (`selectors.plan_rollup`).
Rules that officials may change (targets, unit costs, the monthly report's due day) are rows with a
province default on region 33 and optional county overrides, like the estates app's rules.

Year semantics, shared with `optimiser.py`: an item "scheduled in year Y" is in Y's annual plan and
counts toward the cumulative target by the end of Y; its planned finish lies in Y (its start may be
earlier). Actual figures count estates completed (完工) by the end of Y.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gaizao.accounts.scoping import ScopedQuerySet
from gaizao.core.display import SYSTEM_ACTOR, actor_text
from gaizao.core.models import RegionRule, RegionRuleQuerySet
from gaizao.regions.models import PROVINCE_CODE


class RulesQuerySet(RegionRuleQuerySet):
    def scope_extra_q(self, scope, action):
        # Everyone with a region role reads the province default; only province admins change it.
        if action == "view" and scope.prefixes("view"):
            return Q(region__code=PROVINCE_CODE)
        return Q(pk__in=[])


class PlanPeriod(models.Model):
    """A span of plan years: the three-year action plan 2020-2022 by default, any span allowed."""

    start_year = models.PositiveSmallIntegerField(
        _("first year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    end_year = models.PositiveSmallIntegerField(
        _("last year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    name = models.CharField(_("name"), max_length=64, blank=True)
    is_default = models.BooleanField(_("default period"), default=False)

    class Meta:
        ordering = ["start_year", "end_year"]
        verbose_name = _("plan period")
        verbose_name_plural = _("plan periods")
        constraints = [
            models.UniqueConstraint(fields=["start_year", "end_year"], name="plan_period_unique_span"),
            models.CheckConstraint(condition=Q(end_year__gte=models.F("start_year")), name="plan_period_ordered"),
        ]

    def __str__(self) -> str:
        return self.name or self.label

    @property
    def label(self) -> str:
        return f"{self.start_year}-{self.end_year}"

    @property
    def years(self) -> list[int]:
        return list(range(self.start_year, self.end_year + 1))

    def contains(self, year: int) -> bool:
        return self.start_year <= year <= self.end_year


class TargetMeasure(models.TextChoices):
    ESTATES = "estates", _("Estates")
    HOUSEHOLDS = "households", _("Households")
    FLOOR_AREA = "floor_area", _("Floor area")


def default_milestones() -> list[dict]:
    """Cumulative shares of the task by the end of a plan year: 30% in year 1, 100% in the last (-1)."""
    return [{"year": 1, "share": "30"}, {"year": -1, "share": "100"}]


class TargetRule(RegionRule):
    """Targets: the province default (region 33) and per-county overrides.

    `milestones` are [{"year": n, "share": "percent"}]: year counts the period's years from 1 (-1 is the
    last year); share is a percentage, exact (Decimal text). `task` optionally fixes the county's
    three-year task in the target unit (otherwise the task is the county's pool).
    """

    region = models.OneToOneField("regions.Region", verbose_name=_("region"), on_delete=models.PROTECT,
                                  related_name="target_rule")
    measure = models.CharField(_("measured in"), max_length=16, choices=TargetMeasure.choices,
                               default=TargetMeasure.ESTATES)
    milestones = models.JSONField(_("cumulative shares by year"), default=default_milestones, blank=True)
    task = models.DecimalField(_("task (in the target unit)"), max_digits=14, decimal_places=2, null=True,
                               blank=True, validators=[MinValueValidator(Decimal("0"))])
    model_estates_min = models.PositiveSmallIntegerField(_("model estates at least"), default=1,
                                                         validators=[MaxValueValidator(100)])
    model_estate_deadline = models.DateField(_("model estates by"), default=datetime.date(2019, 12, 31))
    report_due_day = models.PositiveSmallIntegerField(
        _("monthly report due on day"), default=5, validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("The report for a month is due by this day of the following month."))
    objects = RulesQuerySet.as_manager()

    class Meta(RegionRule.Meta):
        verbose_name = _("target rule")
        verbose_name_plural = _("target rules")


class UnitCosts(RegionRule):
    """Estimated investment per m² of floor area for each content class the estate needs (元/m²).

    Defaults give about ¥27,000 per household at 80 m² when all three classes are needed
    (200 + 100 + 40 = 340 元/m²); a scheme's budget replaces the estimate when there is one.
    """

    region = models.OneToOneField("regions.Region", verbose_name=_("region"), on_delete=models.PROTECT,
                                  related_name="unit_costs")
    basic = models.DecimalField(_("basic (元/m²)"), max_digits=8, decimal_places=2, default=Decimal("200"),
                                validators=[MinValueValidator(Decimal("0"))])
    improvement = models.DecimalField(_("improvement (元/m²)"), max_digits=8, decimal_places=2,
                                      default=Decimal("100"), validators=[MinValueValidator(Decimal("0"))])
    enhancement = models.DecimalField(_("enhancement (元/m²)"), max_digits=8, decimal_places=2,
                                      default=Decimal("40"), validators=[MinValueValidator(Decimal("0"))])
    area_per_household = models.DecimalField(
        _("m² per household when the floor area is unknown"), max_digits=6, decimal_places=2,
        default=Decimal("80"), validators=[MinValueValidator(Decimal("1"))])
    objects = RulesQuerySet.as_manager()

    class Meta(RegionRule.Meta):
        verbose_name = _("unit costs")
        verbose_name_plural = _("unit costs")


class CountyQuerySet(ScopedQuerySet):
    scope_lookup = "county__code"


class PlanBudget(models.Model):
    """The money a county has for renovation in one year (万元), used by the optimiser."""

    county = models.ForeignKey("regions.Region", verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="plan_budgets")
    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(2000),
                                                                    MaxValueValidator(2100)])
    budget_wan = models.DecimalField(_("budget (万元)"), max_digits=14, decimal_places=4,
                                     validators=[MinValueValidator(Decimal("0"))])
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CountyQuerySet.as_manager()

    class Meta:
        ordering = ["county__code", "year"]
        verbose_name = _("plan budget")
        verbose_name_plural = _("plan budgets")
        constraints = [models.UniqueConstraint(fields=["county", "year"], name="plan_budget_unique_county_year")]

    def __str__(self) -> str:
        from .audit_words import wan_text  # the amount as the pages show it (6,400.50, not 6400.5000)

        return f"{self.county.name} {self.year}: {wan_text(self.budget_wan)} 万元"

    @property
    def region_code(self) -> str:
        return self.county.code


class ModelEstate(models.Model):
    """A model estate (样板) a county has built, counted by the model-estate target."""

    county = models.ForeignKey("regions.Region", verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="model_estates")
    estate = models.OneToOneField("estates.Estate", verbose_name=_("estate"), on_delete=models.PROTECT,
                                  related_name="model_record")
    completed_on = models.DateField(_("completed on"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = CountyQuerySet.as_manager()

    class Meta:
        ordering = ["county__code", "completed_on"]
        verbose_name = _("model estate")
        verbose_name_plural = _("model estates")

    def __str__(self) -> str:
        return f"{self.estate} ({self.completed_on})"

    @property
    def region_code(self) -> str:
        return self.county.code


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted to the city")
    RETURNED = "returned", _("Returned for changes")
    CITY_APPROVED = "city_approved", _("Approved by the city")
    APPROVED = "approved", _("Approved by the province")
    SUPERSEDED = "superseded", _("Superseded by a later version")


class ActionPlanQuerySet(ScopedQuerySet):
    scope_lookup = "county__code"


class ActionPlan(models.Model):
    """One version of a county's action plan for a period. A change after approval is a new version
    with a reason (计划调整); the approved version stays in force until its successor is approved."""

    county = models.ForeignKey("regions.Region", verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="action_plans")
    period = models.ForeignKey(PlanPeriod, verbose_name=_("period"), on_delete=models.PROTECT,
                               related_name="plans")
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    status = models.CharField(_("status"), max_length=16, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    adjustment_reason = models.CharField(_("reason for the adjustment"), max_length=300, blank=True)
    previous = models.OneToOneField("self", verbose_name=_("previous version"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="next_version")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)

    objects = ActionPlanQuerySet.as_manager()

    class Meta:
        ordering = ["county__code", "period__start_year", "-version"]
        verbose_name = _("action plan")
        verbose_name_plural = _("action plans")
        constraints = [
            models.UniqueConstraint(fields=["county", "period", "version"], name="action_plan_unique_version"),
        ]
        indexes = [models.Index(fields=["period", "status"], name="action_plan_period_status")]

    def __str__(self) -> str:
        return f"{self.county.name} {self.period.label} v{self.version}"

    @property
    def region_code(self) -> str:
        return self.county.code

    @property
    def is_editable(self) -> bool:
        return self.status in (PlanStatus.DRAFT, PlanStatus.RETURNED)


class EstimateSource(models.TextChoices):
    UNIT_COSTS = "unit_costs", _("Estimated from unit costs")
    SCHEME = "scheme", _("Scheme budget")


class PlanItemQuerySet(ScopedQuerySet):
    scope_lookup = "plan__county__code"


class PlanItem(models.Model):
    """An estate or a merged project scheduled in one year of a plan."""

    plan = models.ForeignKey(ActionPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="items")
    estate = models.ForeignKey("estates.Estate", verbose_name=_("estate"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="plan_items")
    project = models.ForeignKey("estates.RenovationProject", verbose_name=_("renovation project"), null=True,
                                blank=True, on_delete=models.PROTECT, related_name="plan_items")
    year = models.PositiveSmallIntegerField(_("year"))
    planned_start = models.DateField(_("planned start"))
    planned_finish = models.DateField(_("planned finish"))
    content_classes = models.JSONField(_("content classes"), default=list, blank=True)
    estates_count = models.PositiveIntegerField(_("estates"), default=1)
    households = models.PositiveIntegerField(_("households"), default=0)
    floor_area = models.DecimalField(_("floor area (m²)"), max_digits=12, decimal_places=2, default=Decimal("0"))
    estimated_investment_wan = models.DecimalField(_("estimated investment (万元)"), max_digits=14,
                                                   decimal_places=4, default=Decimal("0"))
    estimate_source = models.CharField(_("estimate from"), max_length=16, choices=EstimateSource.choices,
                                       default=EstimateSource.UNIT_COSTS)
    is_model = models.BooleanField(_("model estate (样板)"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = PlanItemQuerySet.as_manager()

    class Meta:
        ordering = ["plan_id", "year", "id"]
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        constraints = [
            models.UniqueConstraint(fields=["plan", "estate"], name="plan_item_unique_estate",
                                    condition=Q(estate__isnull=False)),
            models.UniqueConstraint(fields=["plan", "project"], name="plan_item_unique_project",
                                    condition=Q(project__isnull=False)),
            models.CheckConstraint(condition=Q(estate__isnull=True, project__isnull=False)
                                   | Q(estate__isnull=False, project__isnull=True), name="plan_item_one_subject"),
        ]
        indexes = [models.Index(fields=["plan", "year"], name="plan_item_plan_year")]

    def __str__(self) -> str:
        subject = self.estate or self.project
        return f"{subject} {self.year}"

    @property
    def region_code(self) -> str:
        return self.plan.county.code

    @property
    def subject(self):
        return self.estate if self.estate_id else self.project

    @property
    def subject_key(self) -> str:
        """The candidate id the optimiser uses: e<estate id> or p<project id>."""
        return f"e{self.estate_id}" if self.estate_id else f"p{self.project_id}"


class PlanEventQuerySet(ScopedQuerySet):
    scope_lookup = "plan__county__code"


class PlanEvent(models.Model):
    """A workflow step taken on a plan (also in the audit log), with the comment shown to the county."""

    plan = models.ForeignKey(ActionPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="events")
    transition = models.CharField(_("step"), max_length=32)
    from_status = models.CharField(_("from"), max_length=16, choices=PlanStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=PlanStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(_("by"), max_length=150, blank=True)
    role = models.CharField(_("as"), max_length=32, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    objects = PlanEventQuerySet.as_manager()

    class Meta:
        ordering = ["plan_id", "at", "id"]
        verbose_name = _("plan step")
        verbose_name_plural = _("plan steps")

    def __str__(self) -> str:
        return f"{self.plan} {self.transition}"

    @property
    def transition_label(self) -> str:
        from .workflow import STEPS_BY_NAME

        step = STEPS_BY_NAME.get(self.transition)
        if step is not None:
            return str(step.label)
        return str({"create": _("Plan drafted"), "adjust": _("Adjustment started (计划调整)")}.get(
            self.transition, self.transition))

    @property
    def actor_text(self) -> str:
        """Who took the step as the audit pages say it: the user name, 系统 for the system."""
        return actor_text(self.actor_name)

    @property
    def region_code(self) -> str:
        return self.plan.county.code


class ReportStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted (locked)")


class ProgressReport(models.Model):
    """A county's monthly progress report; submitting it locks it and fixes the month's figures."""

    county = models.ForeignKey("regions.Region", verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="progress_reports")
    month = models.DateField(_("month"), help_text=_("The first day of the month reported on."))
    plan = models.ForeignKey(ActionPlan, verbose_name=_("plan reported against"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="progress_reports")
    status = models.CharField(_("status"), max_length=16, choices=ReportStatus.choices, default=ReportStatus.DRAFT)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = CountyQuerySet.as_manager()

    class Meta:
        ordering = ["county__code", "-month"]
        verbose_name = _("monthly progress report")
        verbose_name_plural = _("monthly progress reports")
        constraints = [models.UniqueConstraint(fields=["county", "month"], name="progress_report_unique_month")]

    def __str__(self) -> str:
        return f"{self.county.name} {self.month:%Y-%m}"

    @property
    def region_code(self) -> str:
        return self.county.code

    @property
    def is_locked(self) -> bool:
        return self.status == ReportStatus.SUBMITTED


class ProgressStage(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    STARTED = "started", _("Started")  # 开工
    COMPLETED = "completed", _("Completed")  # 完工
    ACCEPTED = "accepted", _("Accepted")  # 验收


STAGE_ORDER = {s: i for i, s in enumerate(ProgressStage.values)}


class ProgressEntryQuerySet(ScopedQuerySet):
    scope_lookup = "county_code"


class ProgressEntry(models.Model):
    """One estate's state in a monthly report (cumulative to the end of the month)."""

    report = models.ForeignKey(ProgressReport, verbose_name=_("report"), on_delete=models.CASCADE,
                               related_name="entries")
    estate = models.ForeignKey("estates.Estate", verbose_name=_("estate"), on_delete=models.PROTECT,
                               related_name="progress_entries")
    county_code = models.CharField(_("county code"), max_length=12)
    plan_year = models.PositiveSmallIntegerField(_("plan year"), null=True, blank=True)
    stage = models.CharField(_("stage"), max_length=16, choices=ProgressStage.choices,
                             default=ProgressStage.NOT_STARTED)
    started_on = models.DateField(_("started on"), null=True, blank=True)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    accepted_on = models.DateField(_("accepted on"), null=True, blank=True)
    investment_done_wan = models.DecimalField(_("investment completed to date (万元)"), max_digits=14,
                                              decimal_places=4, default=Decimal("0"),
                                              validators=[MinValueValidator(Decimal("0"))])
    households = models.PositiveIntegerField(_("households"), default=0)
    floor_area = models.DecimalField(_("floor area (m²)"), max_digits=12, decimal_places=2, default=Decimal("0"))

    objects = ProgressEntryQuerySet.as_manager()

    class Meta:
        ordering = ["report_id", "estate__code"]
        verbose_name = _("progress entry")
        verbose_name_plural = _("progress entries")
        constraints = [models.UniqueConstraint(fields=["report", "estate"], name="progress_entry_unique_estate")]
        indexes = [models.Index(fields=["estate", "report"], name="progress_entry_estate")]

    def __str__(self) -> str:
        return f"{self.estate} {self.get_stage_display()}"

    @property
    def region_code(self) -> str:
        return self.county_code


class ProgressSummaryQuerySet(ScopedQuerySet):
    scope_lookup = "county_code"


class ProgressSummary(models.Model):
    """A county's figures for one month, fixed when its report is submitted; every roll-up, dashboard
    and export reads these rows (so a locked month never changes under the province's feet)."""

    county = models.ForeignKey("regions.Region", verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="+")
    county_code = models.CharField(_("county code"), max_length=12)
    month = models.DateField(_("month"))
    report = models.OneToOneField(ProgressReport, verbose_name=_("report"), on_delete=models.CASCADE,
                                  related_name="summary")
    # the annual plan of the month's year
    annual_estates = models.PositiveIntegerField(_("estates in the annual plan"), default=0)
    annual_households = models.PositiveIntegerField(_("households in the annual plan"), default=0)
    annual_investment_wan = models.DecimalField(_("planned investment (万元)"), max_digits=16, decimal_places=4,
                                                default=Decimal("0"))
    annual_started = models.PositiveIntegerField(_("started"), default=0)
    annual_completed = models.PositiveIntegerField(_("completed"), default=0)
    annual_accepted = models.PositiveIntegerField(_("accepted"), default=0)
    # the whole plan, cumulative to the end of the month
    plan_estates = models.PositiveIntegerField(_("estates in the plan"), default=0)
    started_estates = models.PositiveIntegerField(_("estates started"), default=0)
    completed_estates = models.PositiveIntegerField(_("estates completed"), default=0)
    accepted_estates = models.PositiveIntegerField(_("estates accepted"), default=0)
    completed_households = models.PositiveIntegerField(_("households in completed estates"), default=0)
    completed_floor_area = models.DecimalField(_("floor area of completed estates (m²)"), max_digits=16,
                                               decimal_places=2, default=Decimal("0"))
    investment_done_wan = models.DecimalField(_("investment completed (万元)"), max_digits=16, decimal_places=4,
                                              default=Decimal("0"))

    objects = ProgressSummaryQuerySet.as_manager()

    class Meta:
        ordering = ["county_code", "month"]
        verbose_name = _("monthly figures")
        verbose_name_plural = _("monthly figures")
        constraints = [models.UniqueConstraint(fields=["county", "month"], name="progress_summary_unique_month")]
        indexes = [models.Index(fields=["month", "county_code"], name="progress_summary_month")]

    def __str__(self) -> str:
        return f"{self.county_code} {self.month:%Y-%m}"

    @property
    def region_code(self) -> str:
        return self.county_code


class OptimisationRunQuerySet(ScopedQuerySet):
    scope_lookup = "region__code"


class OptimisationRun(models.Model):
    """One run of the optimiser on a county's (or a city's, or the province's) pool, kept so the
    official can compare, read the reasons and adopt the proposal later."""

    region = models.ForeignKey("regions.Region", verbose_name=_("region"), on_delete=models.PROTECT,
                               related_name="+")
    period = models.ForeignKey(PlanPeriod, verbose_name=_("period"), on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("run by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("run at"), auto_now_add=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # PlanResult.to_json(include_greedy_schedule=True)
    result = models.JSONField(_("result"), default=dict, blank=True)

    objects = OptimisationRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("optimiser run")
        verbose_name_plural = _("optimiser runs")

    def __str__(self) -> str:
        return f"{self.region.name} {self.period.label} #{self.pk}"

    @property
    def created_by_text(self) -> str:
        """Who ran it as the audit pages say it: the user name, 系统 for the system (the command line)."""
        return actor_text(getattr(self.created_by, "username", "") if self.created_by_id else SYSTEM_ACTOR)

    @property
    def region_code(self) -> str:
        return self.region.code
