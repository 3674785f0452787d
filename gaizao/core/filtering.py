"""Filter fields shared by every app's filtersets: strict, so malformed values are a 400, not ignored."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}


class StrictBooleanField(forms.Field):
    default_error_messages = {"invalid": _("Expected true or false.")}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.Select(choices=[("", _("All")), ("true", _("Yes")), ("false", _("No"))]))
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value in (None, ""):
            return None
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField
