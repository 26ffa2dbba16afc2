from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from knox.models import AuthToken as KnoxAuthToken

from catalog import services
from catalog.accounts import permissions
from catalog.models import ApiToken, Dataset, PersonalHubToken


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "repo_id", "source", "status", "progress", "size", "total_samples", "owner", "created_at"]
    list_filter = ["status", "source"]
    search_fields = ["name", "repo_id"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    # What the files on disk depend on (source, repo, config, paths, commit) is never edited by hand.
    readonly_fields = [
        "id",
        "source",
        "repo_id",
        "config",
        "personal",
        "status",
        "downloaded_bytes",
        "total_bytes",
        "total_samples",
        "resolved_revision",
        "local_path",
        "size_on_disk",
        "features",
        "column_stats",
        "error_message",
        "heartbeat_at",
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
    ]
    fields = ["name", "owner"] + readonly_fields
    actions = ["cancel_selected", "retry_selected"]

    @admin.display(description="Progress")
    def progress(self, obj):
        done = filesizeformat(obj.downloaded_bytes)
        if obj.total_bytes:
            return f"{done} / {filesizeformat(obj.total_bytes)} ({obj.progress_percent:.0f}%)"
        return done

    @admin.display(description="Size on disk", ordering="size_on_disk")
    def size(self, obj):
        return filesizeformat(obj.size_on_disk) if obj.size_on_disk is not None else "—"

    def has_add_permission(self, request):
        # New datasets come from the download form, the import form or the API, which validate and queue them.
        return False

    def delete_model(self, request, obj):
        services.delete(obj)

    def delete_queryset(self, request, queryset):
        for dataset in queryset:
            services.delete(dataset)

    def get_queryset(self, request):
        return permissions.visible_datasets(request.user, super().get_queryset(request))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or permissions.can_manage(request.user, obj))

    def _apply(self, request, queryset, action, verb):
        done = 0
        for dataset in queryset:
            if not permissions.can_manage(request.user, dataset):
                self.message_user(request, f"{dataset.name}: you may not change this dataset.", messages.WARNING)
                continue
            try:
                action(dataset)
                done += 1
            except (services.TransitionNotAllowed, services.AlreadyExists) as exc:
                self.message_user(request, f"{dataset.name}: {exc}", messages.WARNING)
        if done:
            self.message_user(request, f"{verb} {done} dataset(s).", messages.SUCCESS)

    @admin.action(description="Cancel selected datasets")
    def cancel_selected(self, request, queryset):
        self._apply(request, queryset, services.cancel, "Cancelled")

    @admin.action(description="Retry selected datasets")
    def retry_selected(self, request, queryset):
        self._apply(request, queryset, services.retry, "Queued")


# knox registers its own token model, which ours (catalog.ApiToken) replaces and which has no table.
if admin.site.is_registered(KnoxAuthToken):
    admin.site.unregister(KnoxAuthToken)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff can see who has which API tokens and revoke them; keys are never stored, so never shown."""

    list_display = ["name", "user", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username"]
    fields = readonly_fields = ["name", "user", "created", "expiry"]

    def has_add_permission(self, request):
        return False  # A key is shown once, to its owner: tokens are made on the account page.

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PersonalHubToken)
class PersonalHubTokenAdmin(admin.ModelAdmin):
    """Whose Hugging Face token is stored (never the token itself); staff may remove one."""

    list_display = ["user", "updated_at"]
    fields = readonly_fields = ["user", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
