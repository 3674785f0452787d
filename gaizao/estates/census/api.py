"""Census API: start an import (multipart upload) and export the filtered estate list."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from gaizao.core.api import ErrorSerializer
from gaizao.core.errors import ErrorCode, ServiceError
from gaizao.core.serializers import JobOutputSerializer

from .exporter import export_bytes
from .jobs import census_import_start
from .reader import MAX_UPLOAD_BYTES, limit
from .selectors import export_queryset
from .views import XLSX, _attachment


class EstateImportInputSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)
    valid_only = serializers.BooleanField(required=False, default=False)


class EstateImportCreateApi(APIView):
    """Upload a census sheet; a job checks it and (unless `dry_run`) imports it.

    Follow the job at `GET /api/v1/jobs/{id}/`: its `result` has the counts (created, updated,
    unchanged, skipped; `buildings_*` and `households_*` for the 楼栋 and 住户 sheets) and the errors
    (sheet, row, column, cell, value, reason; owners' phones masked). A commit with
    invalid rows fails and writes nothing; `valid_only` imports the valid rows and skips the rest.
    """

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": EstateImportInputSerializer},
                   responses={202: JobOutputSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def post(self, request):
        serializer = EstateImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        max_bytes = limit("MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES)
        if upload.size > max_bytes:
            raise ServiceError(ErrorCode.CENSUS_FILE_INVALID, f"> {max_bytes // 2 ** 20} MB",
                               fields={"file": ["too large"], "reason": "too_large"})
        job = census_import_start(actor=request.user, data=upload.read(), filename=upload.name or "",
                                  dry_run=serializer.validated_data["dry_run"],
                                  valid_only=serializer.validated_data["valid_only"])
        return Response(JobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class EstateExportApi(APIView):
    """The estate list (same filters as `GET /api/v1/estates/`) as a census sheet: xlsx or csv."""

    def perform_content_negotiation(self, request, force=False):
        # `format` names the file format here, not one of DRF's renderers
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["xlsx", "csv"])],
                   responses={(200, XLSX): OpenApiTypes.BINARY, (200, "text/csv"): OpenApiTypes.STR,
                              400: ErrorSerializer})
    def get(self, request):
        fmt = request.query_params.get("format", "xlsx")
        if fmt not in ("xlsx", "csv"):
            raise ServiceError(ErrorCode.INVALID, "format: xlsx or csv", fields={"format": ["xlsx", "csv"]})
        estates = export_queryset(request.query_params, request.user)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        if fmt == "csv":
            return _attachment(export_bytes(estates, "csv"), f"estates-{stamp}.csv", "text/csv; charset=utf-8")
        return _attachment(export_bytes(estates, "xlsx"), f"estates-{stamp}.xlsx", XLSX)
