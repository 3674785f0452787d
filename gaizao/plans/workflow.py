"""The plan workflow as data: each step, the states it leaves from, the state it reaches, and the role
that may take it. `services.plan_transition` reads this table and nothing else decides who may do what.

The county drafts and submits; the city returns it with comments or approves; the province approves (or
returns it). A county cannot approve its own plan (no approving step names the county role), and only
the county edits its draft (`EDIT_ROLE`). A change after approval is a new version (`ADJUST_ROLE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from gaizao.accounts.scoping import Role, Scope

from .models import PlanStatus


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    role: str
    comment_required: bool = False


STEPS: tuple[Step, ...] = (
    Step("submit", _("Submit to the city"), (PlanStatus.DRAFT, PlanStatus.RETURNED), PlanStatus.SUBMITTED,
         Role.COUNTY_OFFICIAL),
    Step("return", _("Return to the county with comments"), (PlanStatus.SUBMITTED,), PlanStatus.RETURNED,
         Role.CITY_OFFICIAL, comment_required=True),
    Step("city_approve", _("Approve and pass to the province"), (PlanStatus.SUBMITTED,), PlanStatus.CITY_APPROVED,
         Role.CITY_OFFICIAL),
    Step("province_return", _("Return to the county with comments"), (PlanStatus.CITY_APPROVED,),
         PlanStatus.RETURNED, Role.PROVINCE_ADMIN, comment_required=True),
    Step("approve", _("Approve"), (PlanStatus.CITY_APPROVED,), PlanStatus.APPROVED, Role.PROVINCE_ADMIN),
)
STEPS_BY_NAME = {s.name: s for s in STEPS}

# Who edits a draft (items, dates, model estates) and who starts an adjustment (计划调整) of an approved plan.
EDIT_ROLE = Role.COUNTY_OFFICIAL
ADJUST_ROLE = Role.COUNTY_OFFICIAL
ADJUST_FROM = (PlanStatus.APPROVED,)
# Who creates a county's first plan for a period.
CREATE_ROLE = Role.COUNTY_OFFICIAL


def holds(scope: Scope, role: str, county_code: str) -> bool:
    """Does the user hold `role` on a region covering the county?"""
    if role == Role.PROVINCE_ADMIN:
        return scope.is_province_admin
    return any(r == role and code and county_code.startswith(code) for r, code in scope.memberships)


def steps_open_to(scope: Scope, status: str, county_code: str) -> list[Step]:
    return [s for s in STEPS if status in s.sources and holds(scope, s.role, county_code)]
