"""Filtering, ordering and page size of dataset lists: one FilterSet for the datasets page and the API.

An unknown value is answered the same way in both: the API with a 400 naming the parameter,
the page with that message above an empty list.
"""

import django_filters
from django.db.models import Q
from rest_framework.pagination import PageNumberPagination

from catalog.models import Dataset

# ?page_size=N, at most MAX_PAGE_SIZE; a missing or bad value means the default (DRF's convention).
PAGE_SIZE_PARAM = "page_size"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100

ORDERING_FIELDS = ["created_at", "updated_at", "name", "status", "total_bytes", "size_on_disk"]
DEFAULT_ORDERING = ["-created_at"]


class DatasetFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Dataset.Status.choices, help_text="Only datasets in this status.")
    source = django_filters.ChoiceFilter(choices=Dataset.Source.choices, help_text="Only datasets from this source.")
    search = django_filters.CharFilter(
        method="filter_search", max_length=200, label="Search", help_text="Part of the name or repo id."
    )
    ordering = django_filters.OrderingFilter(
        fields=ORDERING_FIELDS,
        help_text="Sort by one of " + ", ".join(ORDERING_FIELDS) + "; a leading '-' reverses. Default: -created_at.",
    )

    class Meta:
        model = Dataset
        fields = ["status", "source", "search"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(repo_id__icontains=value))

    @property
    def qs(self):
        queryset = super().qs
        chosen = self.form.cleaned_data.get("ordering") if self.is_bound and self.is_valid() else None
        return queryset if chosen else queryset.order_by(*DEFAULT_ORDERING)

    def problems(self):
        """{parameter: [message, ...]} of an invalid query, as the API answers it."""
        return {field: [str(message) for message in messages] for field, messages in self.errors.items()}


def page_size(query_params):
    """The page size asked for with ?page_size=: 1..MAX_PAGE_SIZE, else DEFAULT_PAGE_SIZE."""
    try:
        size = int(query_params.get(PAGE_SIZE_PARAM, ""))
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE) if size > 0 else DEFAULT_PAGE_SIZE


class DatasetPagination(PageNumberPagination):
    """The API's pages, sized by the same rule as the datasets page."""

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = PAGE_SIZE_PARAM
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        return page_size(request.query_params)
