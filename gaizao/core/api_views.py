from gaizao.core.scoped_api import ScopedDetailApi, ScopedListApi

from .filters import AuditFilter
from .jobs import jobs_fail_stale
from .models import AuditEntry, Job
from .serializers import AuditEntryOutputSerializer, JobOutputSerializer


class AuditListApi(ScopedListApi):
    """Audit entries on objects within the user's regions (province admins: all)."""

    serializer_class = AuditEntryOutputSerializer
    filterset_class = AuditFilter

    def base_queryset(self):
        return AuditEntry.objects.select_related("object_type")


class JobListApi(ScopedListApi):
    serializer_class = JobOutputSerializer
    filterset_fields = ["status", "kind"]

    def list(self, request, *args, **kwargs):
        jobs_fail_stale()
        return super().list(request, *args, **kwargs)

    def base_queryset(self):
        return Job.objects.select_related("region", "created_by")


class JobDetailApi(ScopedDetailApi):
    serializer_class = JobOutputSerializer

    def retrieve(self, request, *args, **kwargs):
        jobs_fail_stale()
        return super().retrieve(request, *args, **kwargs)

    def base_queryset(self):
        return Job.objects.select_related("region", "created_by")

