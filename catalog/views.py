"""Server-rendered pages. Thin: forms validate, catalog.services changes state, browse reads rows.

Every page needs a login. The action views (cancel, retry, delete) are the no-JavaScript path;
with JavaScript the same buttons call the REST API and update the page in place.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat, pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView

from catalog import browse, filters, health, services, storage, usage
from catalog.forms import DownloadForm, ImportForm
from catalog.models import Dataset
from catalog.viewer import pages as viewer_pages

# A placeholder id the pages' JavaScript replaces to build a dataset's URLs.
URL_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def dataset_link(dataset):
    return format_html('<a href="{}">{}</a>', reverse("dataset-detail", args=[dataset.pk]), dataset.name)


class DatasetListView(LoginRequiredMixin, ListView):
    model = Dataset
    template_name = "catalog/dataset_list.html"
    context_object_name = "datasets"

    def get_queryset(self):
        # The API's FilterSet: the same parameters (status, source, search, ordering) and errors.
        self.filters = filters.DatasetFilter(self.request.GET, queryset=Dataset.objects.select_related("owner"))
        if not self.filters.is_valid():
            return Dataset.objects.none()
        return self.filters.qs

    def get_paginate_by(self, queryset):
        return filters.page_size(self.request.GET)

    # The orderings the page offers (the API takes any of filters.ORDERING_FIELDS).
    ORDERING_CHOICES = [
        ("", "Newest first"),
        ("created_at", "Oldest first"),
        ("-updated_at", "Recently updated"),
        ("name", "Name"),
        ("-total_bytes", "Largest download"),
    ]

    def render_to_response(self, context, **kwargs):
        # A query the API would refuse with a 400 is a 400 here too, with the message on the page.
        if self.filters.errors:
            kwargs.setdefault("status", 400)
        return super().render_to_response(context, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The delete confirmation shows what a delete frees: measure only the cards on this page.
        context["datasets"] = usage.annotate(context["datasets"])
        counts = dict(
            Dataset.objects.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
        )
        context["status_tabs"] = [("", "All", sum(counts.values()))] + [
            (value, label, counts.get(value, 0)) for value, label in Dataset.Status.choices
        ]
        data = self.filters.form.cleaned_data if self.filters.is_valid() else {}
        context["current_status"] = data.get("status") or ""
        context["search"] = data.get("search") or ""
        context["ordering"] = self.request.GET.get("ordering", "") if data.get("ordering") else ""
        context["ordering_choices"] = self.ORDERING_CHOICES
        context["filter_errors"] = self.filters.problems()
        context["filtered"] = bool(context["current_status"] or context["search"] or context["filter_errors"])
        context["free_space"] = storage.free_space()
        # Datasets created after this moment are not on the page: live.js adds them from its first snapshot.
        context["rendered_at"] = timezone.now().isoformat()
        page = context["page_obj"]
        context["page_range"] = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
        # Rendered into a <template> for cards that arrive over the live connection.
        context["placeholder"] = Dataset(pk=URL_PLACEHOLDER_ID, name="", status=Dataset.Status.PENDING)
        context["placeholder"].disk_used = 0
        return context


class DatasetDetailView(LoginRequiredMixin, DetailView):
    model = Dataset
    template_name = "catalog/dataset_detail.html"
    context_object_name = "dataset"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        dataset = self.object
        dataset.disk_used = usage.disk_used(dataset)
        stats = dataset.column_stats or {}
        context["columns"] = [
            {"name": feature.get("name"), "type": feature.get("type"), "stats": stats.get(feature.get("name"))}
            for feature in (dataset.features or [])
        ]
        if dataset.started_at:
            context["duration"] = (dataset.finished_at or timezone.now()) - dataset.started_at
        context["hub_url"] = self.hub_url(dataset)
        viewer_pages.charts(context["columns"])
        if dataset.is_ready:
            context.update(viewer_pages.rows_context(self.request, dataset, context["columns"]))
            context.update(viewer_pages.use_context(self.request, dataset))
        return context

    def get(self, request, *args, **kwargs):
        target = viewer_pages.filter_form_redirect(request)
        if target:
            return HttpResponseRedirect(target)
        return super().get(request, *args, **kwargs)

    def render_to_response(self, context, **response_kwargs):
        # A bad viewer parameter in the URL is the client's mistake: say which one, with a 400.
        if context.get("view_error"):
            response_kwargs.setdefault("status", 400)
        return super().render_to_response(context, **response_kwargs)

    @staticmethod
    def hub_url(dataset):
        from django.conf import settings

        if dataset.source != Dataset.Source.HUGGINGFACE or not dataset.repo_id:
            return ""
        return f"{settings.HF_ENDPOINT}/datasets/{dataset.repo_id}"


class DatasetMediaView(LoginRequiredMixin, View):
    """One image or audio value of a ready dataset (?row=&column=), for thumbnails and players."""

    def get(self, request, pk):
        dataset = get_object_or_404(Dataset, pk=pk)
        try:
            row = int(request.GET.get("row", ""))
            data, media_type, name = browse.read_media(dataset, row, request.GET.get("column", ""))
        except (ValueError, KeyError, IndexError, browse.RowsUnavailable):
            raise Http404("No image or audio value there.") from None
        inline = media_type in browse.INLINE_MEDIA_TYPES
        response = HttpResponse(data, content_type=media_type if inline else "application/octet-stream")
        response["Content-Disposition"] = content_disposition_header(not inline, name or "value")
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, max-age=3600"
        return response


class DownloadView(LoginRequiredMixin, FormView):
    form_class = DownloadForm
    template_name = "catalog/download_form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["free_space"] = storage.free_space()
        # Datasets created after this moment are not on the page: live.js adds them from its first snapshot.
        context["rendered_at"] = timezone.now().isoformat()
        return context

    def form_valid(self, form):
        # The form asked the Hub already (DownloadRequest.clean): a wrong id, subset or split is a field error.
        plan = form.plan
        dataset, created = services.request_download(**form.download_arguments(), owner=self.request.user)
        if created:
            messages.success(
                self.request,
                f"Queued {dataset.name}: {len(plan.files)} file{pluralize(len(plan.files))}, "
                f"{filesizeformat(plan.total_bytes)} to download.",
            )
        else:
            messages.info(
                self.request,
                format_html(
                    "This dataset is already in the catalog ({}): {}.",
                    dataset.get_status_display().lower(),
                    dataset_link(dataset),
                ),
            )
        return redirect("dataset-detail", pk=dataset.pk)


class ImportView(LoginRequiredMixin, FormView):
    form_class = ImportForm
    template_name = "catalog/import_form.html"

    def get_context_data(self, **kwargs):
        from django.conf import settings

        context = super().get_context_data(**kwargs)
        context["import_roots"] = settings.HFD_IMPORT_ROOTS
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            dataset = services.import_local(
                name=data["name"], uploaded_file=data["file"], path=data["path"] or None, owner=self.request.user
            )
        except services.ImportRefused as exc:
            form.add_error(form.field_for(exc.field), exc.message)
            return self.form_invalid(form)
        messages.success(self.request, f"Importing {dataset.name}.")
        return redirect("dataset-detail", pk=dataset.pk)


class DatasetActionView(LoginRequiredMixin, View):
    """POST-only cancel or retry, for browsers without JavaScript; back to where the button was."""

    http_method_names = ["post"]
    action = None  # "cancel" or "retry"

    def post(self, request, pk):
        dataset = get_object_or_404(Dataset, pk=pk)
        try:
            getattr(services, self.action)(dataset)
        except (services.TransitionNotAllowed, services.AlreadyExists) as exc:
            messages.error(request, str(exc))
        else:
            done = "Cancelled" if self.action == "cancel" else "Queued again"
            messages.success(request, f"{done}: {dataset.name}.")
        return HttpResponseRedirect(safe_next(request, reverse("dataset-detail", args=[dataset.pk])))


class DatasetDeleteView(LoginRequiredMixin, DetailView):
    """GET: a confirmation that shows the space the delete frees. POST: delete."""

    model = Dataset
    template_name = "catalog/dataset_confirm_delete.html"
    context_object_name = "dataset"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["frees"] = usage.disk_used(self.object)
        context["next"] = safe_next(self.request, "")
        return context

    def post(self, request, pk):
        dataset = get_object_or_404(Dataset, pk=pk)
        name = dataset.name
        services.delete(dataset)
        messages.success(request, f"Deleted {name}.")
        target = safe_next(request, reverse("dataset-list"))
        # Going back to the deleted dataset's own page would be a 404.
        if target.startswith(reverse("dataset-detail", args=[pk])):
            target = reverse("dataset-list")
        return HttpResponseRedirect(target)


class StorageView(LoginRequiredMixin, TemplateView):
    """Disk use: totals from one aggregate query, and one page of datasets, biggest first.

    Only the page's datasets are measured on disk, so the page costs the same with 10,000
    datasets as with 100 (tests/test_scale.py counts its queries).
    """

    template_name = "catalog/storage.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        totals = usage.totals(Dataset.objects.all())
        paginator = Paginator(usage.by_size(Dataset.objects.all()), self.paginate_by)
        paginator.count = totals["count"]  # known from the aggregate: no second COUNT query
        page = paginator.get_page(self.request.GET.get("page"))
        context.update(
            datasets=usage.annotate(page.object_list),
            dataset_count=totals["count"],
            total=totals["total"],
            free=storage.free_space(),
            page_obj=page,
            page_range=paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            data_dir=storage.data_dir(),
        )
        return context


def safe_next(request, default):
    """The `next` parameter if it points into this site, else default (no open redirects)."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def healthz(request):
    """GET /healthz, no login: database, broker, workers, disk, downloads as JSON; 200 or 503."""
    healthy, body = health.report()
    response = JsonResponse(body, status=200 if healthy else 503)
    response["Cache-Control"] = "no-store"
    return response
