from rest_framework import serializers

from .models import AuditEntry, Job


class JobOutputSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "progress", "message", "result", "error", "region", "created_by",
                  "created_at", "started_at", "finished_at"]


class AuditEntryOutputSerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "request_id", "action", "verb", "object_type", "object_id", "object_repr",
                  "region_code", "before", "after", "cause"]

    def get_object_type(self, entry) -> str:
        return f"{entry.object_type.app_label}.{entry.object_type.model}"
