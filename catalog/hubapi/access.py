"""Which ready datasets a request may load through /hub: the app's visibility rules, in one place.

Wiring the permission module of issue 9 (personal datasets) is a change to visible_datasets only.
"""

from catalog.models import Dataset


def visible_datasets(user):
    """Ready datasets this user may see; none for an anonymous request (the whole app needs a login)."""
    if not (user and user.is_authenticated and user.is_active):
        return Dataset.objects.none()
    return Dataset.objects.filter(status=Dataset.Status.READY)
