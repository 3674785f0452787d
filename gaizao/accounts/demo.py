"""Demo users on real regions, one per role. Idempotent: running again changes nothing."""

from django.db import transaction

from gaizao.regions.models import Region

from .models import Department, Membership, Organisation, OrganisationKind, User
from .scoping import Role
from .services import membership_grant, organisation_create, user_create

DEMO_PASSWORD = "gaizao-demo"

# username, display name, role, region code (or organisation spec)
DEMO_USERS = [
    ("admin", "省改造办管理员", Role.PROVINCE_ADMIN, "33"),
    ("hangzhou", "杭州市住建局", Role.CITY_OFFICIAL, "3301"),
    ("xihu", "西湖区住建局", Role.COUNTY_OFFICIAL, "330106"),
    ("ningbo", "宁波市住建局", Role.CITY_OFFICIAL, "3302"),
    ("haishu", "海曙区住建局", Role.COUNTY_OFFICIAL, "330203"),
    ("xihu-street", "西溪街道办事处", Role.STREET_OFFICIAL, "330106004"),
    ("xihu-community", "西溪街道社区工作者", Role.COMMUNITY_WORKER, None),
    ("xihu-fgj", "西湖区发改局", Role.DEPARTMENT_REVIEWER, ("西湖区发改局", OrganisationKind.DEPARTMENT,
                                                         Department.DEVELOPMENT_REFORM, "330106")),
    ("builder", "浙江示范建设有限公司", Role.PROJECT_PARTY, ("浙江示范建设有限公司", OrganisationKind.COMPANY, "", "330106")),
    ("resident", "西溪居民", Role.RESIDENT, None),
]


@transaction.atomic
def demo_users_ensure() -> list[tuple[str, str, str]]:
    first_community = Region.objects.filter(code__startswith="330106004", level="community").order_by("code").first()
    rows = []
    for username, display_name, role, place in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(actor=None, username=username, password=DEMO_PASSWORD, display_name=display_name)
        region = organisation = None
        if isinstance(place, tuple):
            name, kind, department, region_code = place
            org_region = Region.objects.get(code=region_code)
            organisation = Organisation.objects.filter(name=name, region=org_region).first() or organisation_create(
                actor=None, name=name, kind=kind, region=org_region, department=department)
        elif place is None:
            region = first_community
        else:
            region = Region.objects.get(code=place)
        if not Membership.objects.filter(user=user, role=role, region=region, organisation=organisation,
                                         is_active=True).exists():
            membership_grant(actor=None, user=user, role=role, region=region, organisation=organisation)
        rows.append((username, str(Role(role).label), str(organisation or region)))
    return rows
