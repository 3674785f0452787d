from django.urls import path

from . import api, views

app_name = "census"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("template/", views.template_download, name="template"),
    path("export/", views.export, name="export"),
    path("imports/<int:pk>/", views.import_detail, name="import"),
    path("imports/<int:pk>/commit/", views.commit, name="commit"),
    path("imports/<int:pk>/errors.xlsx", views.errors_download, name="errors"),
]

# included in the API's list (namespace "api") before the estates' own routes
api_urlpatterns = [
    path("estates/imports/", api.EstateImportCreateApi.as_view(), name="estate-import"),
    path("estates/export/", api.EstateExportApi.as_view(), name="estate-export"),
]
