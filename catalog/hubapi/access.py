"""Which ready datasets a request may load through /hub: the app's visibility rules, in one place."""

from catalog.accounts import permissions
from catalog.models import Dataset


def visible_datasets(user):
    """Ready datasets this user may see (catalog.accounts.permissions); none for an anonymous request."""
    return permissions.visible_datasets(user, Dataset.objects.filter(status=Dataset.Status.READY))
