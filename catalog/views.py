"""Server-rendered pages. Thin: forms validate, catalog.services changes state, browse reads rows.

Every page needs a login. The action views (cancel, retry, delete) are the no-JavaScript path;
with JavaScript the same buttons call the REST API and update the page in place.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
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

from catalog import browse, filters, health, services, storage, uploads, usage
from catalog.accounts import hub_tokens, permissions
from catalog.forms import DownloadForm, ImportForm
from catalog.models import Dataset
from catalog.viewer import pages as viewer_pages

# A placeholder id the pages' JavaScript replaces to build a dataset's URLs.
URL_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def dataset_link(dataset):
    return format_html('<a href="{}">{}</a>', reverse("dataset-detail", args=[dataset.pk]), dataset.name)


def visible_dataset_or_404(request, pk):
    return get_object_or_404(permissions.visible_datasets(request.user), pk=pk)


def managed_dataset_or_403(request, pk):
    """The dataset if this user may cancel, retry or delete it; 404 if they may not see it, else 403."""
    dataset = visible_dataset_or_404(request, pk)
    if not permissions.can_manage(request.user, dataset):
        raise PermissionDenied("Only the dataset's owner or staff may cancel, retry or delete it.")
    return dataset


class RequestPermissionMixin(LoginRequiredMixin):
    """Pages that create datasets: signed in, with the add_dataset permission."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not permissions.can_request(request.user):
            raise PermissionDenied("You may browse the catalog, but downloading and importing need a permission.")
        return super().dispatch(request, *args, **kwargs)


class DatasetListView(LoginRequiredMixin, ListView):
    model = Dataset
    template_name = "catalog/dataset_list.html"
    context_object_name = "datasets"

    def get_queryset(self):
        # The API's FilterSet: the same parameters (status, source, search, ordering) and errors.
        self.filters = filters.DatasetFilter(
            self.request.GET, queryset=permissions.visible_datasets(self.request.user).select_related("owner")
        )
        if not self.filters.is_valid():
            return Dataset.objects.none()
        return self.filters.qs

    def get_paginate_by(self, queryset):
        return filters.page_size(self.request.GET)

    def status_counts(self):
        """{status: number of datasets this user sees}: one aggregate query, for the tabs and the page count."""
        if not hasattr(self, "_status_counts"):
            rows = permissions.visible_datasets(self.request.user).order_by().values_list("status")
            self._status_counts = dict(rows.annotate(n=Count("*")).values_list("status", "n"))
        return self._status_counts

    def get_paginator(self, queryset, per_page, **kwargs):
        paginator = super().get_paginator(queryset, per_page, **kwargs)
        # Filtered by status alone (or not at all), the tabs' counts already say how many rows
        # there are: the paginator does not count them a second time.
        data = self.filters.form.cleaned_data if self.filters.is_valid() else None
        if data is not None and not data.get("search") and not data.get("source"):
            counts = self.status_counts()
            paginator.count = counts.get(data["status"], 0) if data.get("status") else sum(counts.values())
        return paginator

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
        counts = self.status_counts()
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
        # Owned by the viewer so its card has the action buttons (the API refuses them for others' datasets).
        context["placeholder"] = Dataset(
            pk=URL_PLACEHOLDER_ID, name="", status=Dataset.Status.PENDING, owner=self.request.user
        )
        context["placeholder"].disk_used = 0
        return context


class DatasetDetailView(LoginRequiredMixin, DetailView):
    model = Dataset
    template_name = "catalog/dataset_detail.html"
    context_object_name = "dataset"

    def get_queryset(self):
        return permissions.visible_datasets(self.request.user)

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
        context["can_see_paths"] = permissions.can_see_server_paths(self.request.user)
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
        dataset = visible_dataset_or_404(request, pk)
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


class DownloadView(RequestPermissionMixin, FormView):
    form_class = DownloadForm
    template_name = "catalog/download_form.html"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        # The Hub check uses the user's own Hub token if they stored one (private and gated repos).
        kwargs["hub_token"] = hub_tokens.token_for_lookup(self.request.user)
        return kwargs

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


class ImportView(RequestPermissionMixin, FormView):
    form_class = ImportForm
    template_name = "catalog/import_form.html"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["allow_server_path"] = permissions.can_import_server_path(self.request.user)
        return kwargs

    def form_invalid(self, form):
        # An upload stopped at the size limit while streaming arrives as no file at all: say why.
        refused = uploads.upload_refused(self.request)
        if refused:
            # The "choose a file" errors that follow from the missing file would only confuse.
            form.errors.pop("file", None)
            form.errors.pop(NON_FIELD_ERRORS, None)
            form.add_error("file", refused)
            return self.render_to_response(self.get_context_data(form=form), status=413)
        return super().form_invalid(form)

    def form_valid(self, form):
        if uploads.upload_refused(self.request):
            return self.form_invalid(form)
        data = form.cleaned_data
        try:
            dataset = services.import_local(
                name=data["name"],
                uploaded_file=data["file"],
                path=data.get("path") or None,
                owner=self.request.user,
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
        dataset = managed_dataset_or_403(request, pk)
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

    def get_object(self, queryset=None):
        return managed_dataset_or_403(self.request, self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["frees"] = usage.disk_used(self.object)
        context["next"] = safe_next(self.request, "")
        return context

    def post(self, request, pk):
        dataset = managed_dataset_or_403(request, pk)
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
        visible = permissions.visible_datasets(self.request.user)
        totals = usage.totals(visible)
        paginator = Paginator(usage.by_size(visible), self.paginate_by)
        paginator.count = totals["count"]  # known from the aggregate: no second COUNT query
        page = paginator.get_page(self.request.GET.get("page"))
        context.update(
            datasets=usage.annotate(page.object_list),
            dataset_count=totals["count"],
            total=totals["total"],
            free=storage.free_space(),
            page_obj=page,
            page_range=paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            # Server paths only for staff.
            data_dir=storage.data_dir() if permissions.can_see_server_paths(self.request.user) else "",
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


def not_found(request, exception=None):
    """404 for any unknown address: JSON under /api/, the page otherwise."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
