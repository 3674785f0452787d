from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gaizao.accounts import api as accounts_api
from gaizao.core import api_views as core_api
from gaizao.core import views as core_views
from gaizao.estates import api as estates_api
from gaizao.estates.census.urls import api_urlpatterns as census_api
from gaizao.plans import api as plans_api
from gaizao.plans.urls import dashboard_urls, progress_urls
from gaizao.regions import api as regions_api

admin.site.site_header = "Gaizao"

api_v1 = [
    *census_api,
    path("auth/token/", accounts_api.TokenObtainApi.as_view(), name="auth-token"),
    path("me/", accounts_api.MeApi.as_view(), name="me"),
    path("regions/", regions_api.RegionListApi.as_view(), name="region-list"),
    path("regions/reload/", regions_api.RegionsReloadApi.as_view(), name="region-reload"),
    path("regions/<str:code>/", regions_api.RegionDetailApi.as_view(), name="region-detail"),
    path("audit/", core_api.AuditListApi.as_view(), name="audit-list"),
    path("jobs/", core_api.JobListApi.as_view(), name="job-list"),
    path("jobs/<int:pk>/", core_api.JobDetailApi.as_view(), name="job-detail"),
    path("plans/", plans_api.PlanListApi.as_view(), name="plan-list"),
    path("plans/<int:pk>/", plans_api.PlanDetailApi.as_view(), name="plan-detail"),
    path("plans/<int:pk>/transitions/", plans_api.PlanTransitionsApi.as_view(), name="plan-transitions"),
    path("targets/", plans_api.TargetListApi.as_view(), name="target-list"),
    path("progress/", plans_api.ProgressListApi.as_view(), name="progress-list"),
    path("progress/rollup/", plans_api.ProgressRollupApi.as_view(), name="progress-rollup"),
    path("dashboard/", plans_api.DashboardApi.as_view(), name="dashboard"),
    path("estates/", estates_api.EstateListApi.as_view(), name="estate-list"),
    path("estates/admit/", estates_api.EstatesAdmitApi.as_view(), name="estate-admit-bulk"),
    path("estates/merge/", estates_api.EstatesMergeApi.as_view(), name="estate-merge"),
    path("estates/<int:pk>/", estates_api.EstateDetailApi.as_view(), name="estate-detail"),
    path("estates/<int:pk>/admit/", estates_api.EstateAdmitApi.as_view(), name="estate-admit"),
    path("estates/<int:pk>/defer/", estates_api.EstateDeferApi.as_view(), name="estate-defer"),
    path("estates/<int:pk>/drop/", estates_api.EstateDropApi.as_view(), name="estate-drop"),
    path("estates/<int:pk>/readmit/", estates_api.EstateReadmitApi.as_view(), name="estate-readmit"),
]

jobs_urls = ([
    path("", core_views.job_list, name="list"),
    path("<int:pk>/", core_views.job_detail, name="detail"),
], "jobs")

audit_urls = ([
    path("", core_views.audit_list, name="list"),
    path("history/<str:object_type>/<str:object_id>/", core_views.object_history, name="history"),
], "audit")

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", core_views.login_view, name="login"),
    # browsers ask for /favicon.ico whatever the page links
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("logout/", core_views.logout_view, name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("regions/", include("gaizao.regions.urls")),
    path("plans/", include("gaizao.plans.urls")),
    path("progress/", include(progress_urls)),
    path("dashboard/", include(dashboard_urls)),
    path("census/", include("gaizao.estates.census.urls")),
    path("estates/", include("gaizao.estates.urls")),
    path("jobs/", include(jobs_urls)),
    path("audit/", include(audit_urls)),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "gaizao.core.views.error_400"
handler403 = "gaizao.core.views.error_403"
handler404 = "gaizao.core.views.error_404"
handler500 = "gaizao.core.views.error_500"
