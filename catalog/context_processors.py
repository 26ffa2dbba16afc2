"""Template context for every page."""

from catalog import health


def health_banner(request):
    """The banner of problems a signed-in person should know about (no worker, stalled downloads)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"health_problems": health.problems()}
