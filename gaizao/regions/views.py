from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gaizao.accounts.scoping import restrict
from gaizao.core.errors import ServiceError

from .filters import RegionFilter
from .models import Region
from .services import regions_reload_start


@login_required
def region_list(request):
    regions = restrict(Region.objects.select_related("parent"), request.user)
    region_filter = RegionFilter(request.GET, queryset=regions)
    try:
        rows = region_filter.qs
        if region_filter.is_bound and not region_filter.is_valid():
            rows = regions.none()
    except ServiceError as exc:
        region_filter.form.add_error(None, exc.message)
        rows = regions.none()
    if not any(request.GET.get(k) for k in ("level", "parent", "within", "search", "is_active")):
        # By default: the user's own regions and the level below them.
        top = list(request.scope.prefixes("view"))
        rows = rows.filter(code__in=top) | rows.filter(parent__code__in=top)
    page = Paginator(rows.order_by("code"), 50).get_page(request.GET.get("page"))
    return render(request, "regions/region_list.html", {"filter": region_filter, "page": page})


@login_required
def region_detail(request, code: str):
    region = get_object_or_404(restrict(Region.objects.select_related("parent"), request.user), code=code)
    children = restrict(region.children.all(), request.user).annotate(child_count=Count("children"))
    ancestors = [a for a in region.ancestors() if request.scope.covers(a.code)]
    return render(request, "regions/region_detail.html", {
        "region": region,
        "children": children,
        "ancestors": ancestors,
        "successors": region.successors.all(),
        "predecessors": restrict(region.predecessors.all(), request.user),
    })


@login_required
@require_POST
def regions_reload(request):
    if not request.scope.is_province_admin:
        raise Http404
    job = regions_reload_start(actor=request.user)
    messages.info(request, _("Region reload started."))
    return redirect("jobs:detail", pk=job.pk)
