"""Progress reporting: the only place that writes download progress and announces changes.

A download calls `ProgressReporter.add(n)` for every chunk; the reporter writes the byte count
to the database and sends a live update at most every HFD_PROGRESS_INTERVAL seconds. Status
changes (made by catalog.services) are announced at once. Every live message goes through
`catalog.live.broadcast`, which never raises: if the live transport is down, downloads go on.
"""

import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)


class DownloadStopped(Exception):
    """The record is no longer ours to write: cancelled, deleted, or taken by another run."""


_state_serializer = None


def dataset_state(dataset, bytes_per_second=None, eta_seconds=None):
    """The state live clients receive for a dataset: the REST API's DatasetStateSerializer, one wire format."""
    global _state_serializer
    from catalog.serializers import DatasetStateSerializer

    # One serializer for every call: building a ModelSerializer's fields costs ten times using
    # them, and a socket snapshot serializes a page of datasets for each of hundreds of sockets.
    # Its fields keep no state between calls; the speed, which varies, is set after.
    if _state_serializer is None:
        _state_serializer = DatasetStateSerializer()
    state = _state_serializer.to_representation(dataset)
    state["bytes_per_second"], state["eta_seconds"] = bytes_per_second, eta_seconds
    return state


def _broadcast(event, dataset, state, previous_status=None):
    from catalog import live
    from catalog.accounts import permissions

    audience = permissions.audience(dataset)
    live.broadcast(event, str(dataset.pk), state, previous_status=previous_status, audience=audience)


def announce_created(dataset):
    _broadcast("created", dataset, dataset_state(dataset))


def announce_status(dataset, previous_status=None):
    # previous_status lets a list page that never saw this dataset move it between its status tabs.
    _broadcast("status", dataset, dataset_state(dataset), previous_status)


def announce_deleted(dataset, previous_status=None):
    """dataset: the deleted record (its pk still set), whose audience decides who hears of it."""
    _broadcast("deleted", dataset, {"id": str(dataset.pk)}, previous_status)


class ProgressReporter:
    """Counts bytes for one download run; thread-safe (several files download at once).

    `downloaded_bytes` only grows and never passes `total_bytes`. A flush is a conditional
    UPDATE that only matches while the record is still active under this run, so a cancel,
    a delete or a newer run stops this one at its next flush (DownloadStopped). With a `run`
    (catalog.runs.Run), its writes wait out a database outage and a check also sees its stop.
    """

    def __init__(self, dataset, run_id, already_done=0, interval=None, run=None):
        self.dataset = dataset
        self.run_id = run_id
        self.run = run
        self.total = dataset.total_bytes or 0
        self.done = min(already_done, self.total) if self.total else already_done
        self.interval = settings.HFD_PROGRESS_INTERVAL if interval is None else interval
        # Off while several threads download: they only count, and the thread that owns the
        # run flushes through check(), so only one thread ever writes and writes stay in order.
        self.auto_flush = True
        self._lock = threading.Lock()
        self._last_flush = 0.0
        self._stopped = False
        # (time, bytes) samples over the last few seconds, for the speed estimate.
        self._samples = [(time.monotonic(), self.done)]

    def add(self, nbytes):
        with self._lock:
            if self._stopped:
                raise DownloadStopped()
            self.done += nbytes
            if self.total:
                self.done = min(self.done, self.total)
        if self.auto_flush:
            self.check()

    def check(self):
        """Flush if due, so a stalled download still notices a cancel. Raises DownloadStopped."""
        if self._stopped:
            raise DownloadStopped()
        if self.run is not None:
            self.run.check()
        if time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    def speed(self):
        now = time.monotonic()
        with self._lock:
            self._samples.append((now, self.done))
            self._samples = [s for s in self._samples if now - s[0] <= 5.0] or self._samples[-1:]
            (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 0.2:
            return None, None
        rate = (b1 - b0) / (t1 - t0)
        eta = round((self.total - b1) / rate, 1) if rate > 0 and self.total else None
        return round(rate), eta

    def save(self, **fields):
        """Write fields of the run's record (e.g. a corrected total_bytes); DownloadStopped if not ours.

        Through the run when there is one, so the write waits out a database outage.
        """
        from catalog import services

        if self.run is not None:
            self.run.save(**fields)
        else:
            services.save_run_fields(self.dataset, self.run_id, **fields)

    def flush(self):
        with self._lock:
            done = self.done
        self._last_flush = time.monotonic()
        try:
            self.save(downloaded_bytes=done)
        except DownloadStopped:
            with self._lock:
                self._stopped = True
            raise
        rate, eta = self.speed()
        _broadcast("progress", self.dataset, dataset_state(self.dataset, rate, eta))
