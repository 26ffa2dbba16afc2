"""Progress reporting: the only place that writes download progress and announces changes.

The live-update transport (WebSocket groups) hooks in here, so every sender goes through it.
"""

import logging

logger = logging.getLogger(__name__)


def announce_created(dataset):
    pass


def announce_status(dataset):
    pass


def announce_deleted(dataset_id):
    pass
