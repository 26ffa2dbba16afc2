"""WebSocket URL routes (see catalog/consumers.py for the messages)."""

from django.urls import path

from catalog import consumers

websocket_urlpatterns = [
    path("ws/datasets/", consumers.DatasetListConsumer.as_asgi()),
    path("ws/datasets/<uuid:dataset_id>/", consumers.DatasetConsumer.as_asgi()),
]
