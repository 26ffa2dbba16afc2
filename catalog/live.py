"""Live updates to WebSocket clients (placeholder until the Channels work lands).

broadcast() must never raise: a broken live transport must not fail a download.
"""

import logging

logger = logging.getLogger(__name__)


def broadcast(event, dataset_id, state):
    pass
