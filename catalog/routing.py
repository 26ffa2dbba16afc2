"""WebSocket URL routes (see catalog/consumers.py for the messages) and the Origin check."""

from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from catalog import consumers
from catalog.accounts import permissions

websocket_urlpatterns = [
    path("ws/datasets/", consumers.DatasetListConsumer.as_asgi()),
    path("ws/datasets/<uuid:dataset_id>/", consumers.DatasetConsumer.as_asgi()),
    re_path(r"", consumers.NotFoundConsumer.as_asgi()),
]


class OriginCheck:
    """Refuses a WebSocket handshake whose Origin is not this site (host and port) or a trusted origin.

    Channels' AllowedHostsOriginValidator compares host names only, so a page served on another
    port of the same host could open a socket with the user's cookies.
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin1")
        host = headers.get(b"host", b"").decode("latin1")
        if permissions.allowed_origin(origin, host):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
