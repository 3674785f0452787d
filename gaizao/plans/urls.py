from django.urls import path

from . import views

app_name = "plans"
urlpatterns = [
    path("", views.plan_list, name="list"),
    path("create/", views.plan_create, name="create"),
    path("rollup/", views.plan_rollup, name="rollup"),
    path("rules/", views.rules, name="rules"),
    path("budgets/", views.budgets, name="budgets"),
    path("optimise/", views.region_optimise, name="region-optimise"),
    path("export/", views.export, name="export"),
    path("<int:pk>/", views.plan_detail, name="detail"),
    path("<int:pk>/items/", views.plan_items, name="items"),
    path("<int:pk>/items/<int:item_pk>/", views.plan_item, name="item"),
    path("<int:pk>/step/", views.plan_step, name="step"),
    path("<int:pk>/adjust/", views.plan_adjust, name="adjust"),
    path("<int:pk>/reestimate/", views.plan_reestimate, name="reestimate"),
    path("<int:pk>/optimise/", views.plan_optimise, name="optimise"),
    path("<int:pk>/adopt/", views.plan_adopt, name="adopt"),
]

progress_urls = ([
    path("", views.progress_list, name="list"),
    path("open/", views.progress_open, name="open"),
    path("<int:pk>/", views.progress_detail, name="detail"),
    path("<int:pk>/submit/", views.progress_submit, name="submit"),
], "progress")

dashboard_urls = ([
    path("", views.dashboard, name="region"),
    path("map.json", views.dashboard_map, name="map"),
    path("estate/<int:pk>/", views.estate_progress, name="estate"),
], "dashboard")
