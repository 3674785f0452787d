"""Errors that services raise, each with a stable code (the API's `code`).

Codes never change meaning once published; add new ones instead.
"""

from django.utils.translation import gettext_lazy as _


class ErrorCode:
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    THROTTLED = "throttled"
    PARSE_ERROR = "parse_error"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    DATABASE_BUSY = "database_busy"  # SQLite: another writer held the database longer than the wait allows
    UNKNOWN_REGION = "unknown_region"
    REGION_LEVEL_MISMATCH = "region_level_mismatch"
    REGION_FILE_INVALID = "region_file_invalid"
    ROLE_PLACE_MISMATCH = "role_place_mismatch"
    JOB_KIND_UNKNOWN = "job_kind_unknown"
    AUDIT_IMMUTABLE = "audit_immutable"
    ESTATE_REGION_INVALID = "estate_region_invalid"
    ESTATE_CODE_TAKEN = "estate_code_taken"
    ESTATE_NOT_ELIGIBLE = "estate_not_eligible"
    ESTATE_TRANSITION_INVALID = "estate_transition_invalid"
    ESTATE_POOL_YEAR_INVALID = "estate_pool_year_invalid"
    ESTATES_NOT_ADJACENT = "estates_not_adjacent"
    ESTATE_ROWS_INVALID = "estate_rows_invalid"
    RULES_REGION_INVALID = "rules_region_invalid"
    PLAN_EXISTS = "plan_exists"
    PLAN_NOT_EDITABLE = "plan_not_editable"
    PLAN_TRANSITION_INVALID = "plan_transition_invalid"
    PLAN_ITEM_INVALID = "plan_item_invalid"
    PLAN_PERIOD_INVALID = "plan_period_invalid"
    PLAN_RULES_INVALID = "plan_rules_invalid"
    PLAN_BUDGET_INVALID = "plan_budget_invalid"
    BUDGET_FILE_INVALID = "budget_file_invalid"
    PROGRESS_REPORT_LOCKED = "progress_report_locked"
    PROGRESS_REPORT_INVALID = "progress_report_invalid"
    PROGRESS_ENTRY_INVALID = "progress_entry_invalid"
    OPTIMISER_INPUT_INVALID = "optimiser_input_invalid"
    SERVER_ERROR = "server_error"
    CENSUS_FILE_INVALID = "census_file_invalid"
    CENSUS_ROWS_INVALID = "census_rows_invalid"


class ServiceError(Exception):
    """A refused change: a stable code, a message for people, and per-field details."""

    status = 400

    def __init__(self, code: str, message=None, *, fields: dict | None = None, status: int | None = None):
        self.code = code
        self.message = str(message or _("The request is invalid."))
        self.fields = fields or {}
        if status is not None:
            self.status = status
        super().__init__(self.message)


class NotFoundError(ServiceError):
    status = 404

    def __init__(self, message=None, *, code: str = ErrorCode.NOT_FOUND, fields: dict | None = None):
        super().__init__(code, message or _("Not found."), fields=fields)


class PermissionDeniedError(ServiceError):
    status = 403

    def __init__(self, message=None, *, code: str = ErrorCode.PERMISSION_DENIED):
        super().__init__(code, message or _("You do not have permission to do this."))
