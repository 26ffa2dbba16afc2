"""ASGI entry point: HTTP through Django; WebSocket routing is added by catalog.routing."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hfdatasets.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from catalog.routing import OriginCheck, websocket_urlpatterns  # noqa: E402
from catalog.uploads import RequestBodyLimit, install_daphne_body_limit  # noqa: E402

install_daphne_body_limit()

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_asgi_app),
        "websocket": OriginCheck(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
