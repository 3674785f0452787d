from django.urls import path

from . import views

app_name = "estates"
urlpatterns = [
    path("", views.estate_list, name="list"),
    path("admit/", views.estates_admit_bulk, name="admit-bulk"),
    path("merge/", views.estates_merge, name="merge"),
    path("map/", views.estate_map, name="map"),
    path("map/data/", views.estate_map_data, name="map-data"),
    path("map/counties/", views.estate_map_counties, name="map-counties"),
    path("rules/", views.rules_overview, name="rules"),
    path("rules/<str:code>/", views.rules_edit, name="rules-edit"),
    path("rules/<str:code>/reset/", views.rules_reset, name="rules-reset"),
    path("projects/<int:pk>/", views.project_detail, name="project"),
    path("projects/<int:pk>/dissolve/", views.project_dissolve, name="project-dissolve"),
    path("<int:pk>/", views.estate_detail, name="detail"),
    path("<int:pk>/admit/", views.estate_admit, name="admit"),
    path("<int:pk>/defer/", views.estate_defer, name="defer"),
    path("<int:pk>/drop/", views.estate_drop, name="drop"),
    path("<int:pk>/readmit/", views.estate_readmit, name="readmit"),
]
