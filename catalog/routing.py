"""WebSocket URL routes (filled in by the live progress work)."""

websocket_urlpatterns = []
