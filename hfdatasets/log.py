"""Logging a person can follow: the filter settings.LOGGING puts on django-q2's logger.

A download logs one INFO line when it starts, finishes (bytes, rows, seconds) and fails (the
message): catalog.pipeline and catalog.services. The recovery pass (each worker's monitor thread,
catalog.taskqueue) logs only when it re-queues something (catalog.services.recover_lost). Lines
about the minutely recovery task of older versions are dropped here, as is django-q2's "Enqueued
[queue] <number>" line for every task, which says nothing a person can use (our own lines name
the dataset). Warnings and errors always pass.
"""

import logging

RECOVERY_TASK = "recover_stale_datasets"
RECOVERY_SCHEDULE = "Recover stale downloads"


class QuietRecoveryPass(logging.Filter):
    def filter(self, record):
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        if message.startswith("Enqueued ["):
            return False
        return RECOVERY_TASK not in message and RECOVERY_SCHEDULE not in message
