from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from gaizao.accounts.permissions import IsProvinceAdmin
from gaizao.core.api import ErrorSerializer
from gaizao.core.scoped_api import ScopedDetailApi, ScopedListApi
from gaizao.core.serializers import JobOutputSerializer

from .filters import RegionFilter
from .models import Region
from .services import regions_reload_start


class RegionOutputSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)
    successors = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Region
        fields = ["code", "name", "level", "parent", "is_active", "retired_note", "successors"]


class RegionListApi(ScopedListApi):
    serializer_class = RegionOutputSerializer
    filterset_class = RegionFilter

    def base_queryset(self):
        return Region.objects.select_related("parent").prefetch_related("successors")


class RegionDetailApi(ScopedDetailApi):
    serializer_class = RegionOutputSerializer
    lookup_field = "code"

    def base_queryset(self):
        return Region.objects.select_related("parent").prefetch_related("successors")


class RegionsReloadApi(APIView):
    """Reload the shipped region tree as a background job (province admins)."""

    permission_classes = [IsProvinceAdmin]

    @extend_schema(request=None, responses={202: JobOutputSerializer, 403: ErrorSerializer})
    def post(self, request):
        job = regions_reload_start(actor=request.user)
        return Response(JobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)
