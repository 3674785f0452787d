"""Filter fields shared by every app's filtersets: strict, so malformed values are a 400, not ignored."""

import django_filters
from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django_filters.utils import label_for_filter

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


_lazy_label_for_filter = lazy(label_for_filter, str)


class FilterSet(django_filters.FilterSet):
    """The base of every filterset: a filter without a label of its own is labelled lazily, in the language of
    whoever reads it, with django-filter's own words (the field's verbose name and its lookup).

    django-filter works such a label out only on a filterset's copy of a filter, which has the model. The API
    schema (drf-spectacular, in English) reads the class's own filters, and the choice fields it builds there
    have no model and so no label; every later filterset copies them, and its form showed the bare field name
    in English ("Level" for 层级) to everyone until a restart. A lazy label made here, on the class, is shared
    by those fields and by every copy, and reads in the active language each time."""

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        model = cls._meta.model
        if model is not None:
            for filter_ in filters.values():
                if filter_._label is None:
                    filter_.label = _lazy_label_for_filter(model, filter_.field_name, filter_.lookup_expr,
                                                           filter_.exclude)
        return filters
