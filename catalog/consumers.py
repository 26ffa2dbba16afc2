"""WebSocket consumers for live dataset progress.

Messages to the browser are JSON: {"event": "<snapshot|created|progress|status|deleted>",
"dataset": state}, where state is catalog.progress.dataset_state() ({"id"} only for deleted);
status and deleted events add "previous_status" when the sender knew it.
Only logged-in users get a socket: an anonymous handshake is refused (HTTP 403), as is a
foreign Origin (catalog.routing.OriginCheck, in hfdatasets/asgi.py) and a path that is not a route.
A user gets messages only about the datasets catalog.accounts.permissions lets them see, and
without server paths unless they are staff.

A consumer joins its groups before it reads the snapshot, so no update falls between the two.
The price: an update made while the snapshot is being read may arrive just after it, a little
older than the snapshot. Clients that care can ignore a state whose updated_at is older than the
one they show.
"""

import logging
import re

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.paginator import Paginator
from django.http import QueryDict

from catalog import filters, live, progress
from catalog.accounts import permissions

logger = logging.getLogger(__name__)

# Close code sent when ws/datasets/<uuid>/ names no dataset (4000-4999 are the application's).
CLOSE_NOT_FOUND = 4404
# Close code sent while the channel layer (Redis) is unreachable: live updates are paused.
CLOSE_LIVE_PAUSED = 4503


def _states(user, queryset):
    # The two big JSON fields are not part of the state.
    return [
        permissions.dataset_for_user(user, progress.dataset_state(d))
        for d in queryset.defer("features", "column_stats")
    ]


def _page(queryset, size, number):
    """The rows of page `number` (text, as in ?page=), as Paginator.get_page() picks them.

    A page that exists costs one query, not two: the COUNT a paginator makes first is only
    needed to pick the page for a number past the end or not a number, and hundreds of sockets
    opening at once each read a page.
    """
    if number is None or re.fullmatch(r"[1-9][0-9]{0,8}", number):
        first = (int(number or 1) - 1) * size
        rows = list(queryset[first : first + size])
        if rows or first == 0:
            return rows
    return list(Paginator(queryset, size).get_page(number).object_list)


def page_states(query_string, user):
    """The states of the datasets one page of the list shows, for a snapshot.

    query_string is the page's own (?status=&search=&ordering=&page=&page_size=, read as the
    page and the API read them); a query they would refuse gets the first page of everything.
    One page, never the whole table: a snapshot costs the same with 10,000 datasets as with 100.
    """
    params = QueryDict(query_string)
    visible = permissions.visible_datasets(user)
    queryset = visible.order_by(*filters.DEFAULT_ORDERING)
    # Without a filter or an ordering (the list page as it opens), that is what the FilterSet
    # would give; building one (a form and copies of its filters) costs more than the page's query.
    if any(name in params for name in filters.DatasetFilter.base_filters):
        chosen = filters.DatasetFilter(params, queryset=visible)
        queryset = chosen.qs if chosen.is_valid() else queryset
    rows = _page(queryset.defer("features", "column_stats"), filters.page_size(params), params.get("page"))
    return [permissions.dataset_for_user(user, progress.dataset_state(d)) for d in rows]


class _LiveConsumer(AsyncJsonWebsocketConsumer):
    listening = False

    async def subscribe(self, *groups):
        """Join groups (left again automatically on disconnect) and start the embedded relay.

        False if the channel layer (Redis) is unreachable: the socket is then accepted and closed
        with CLOSE_LIVE_PAUSED, so the page says live updates are paused and tries again later.
        """
        try:
            for group in groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception as exc:
            logger.warning("Live updates paused: the channel layer is unreachable (%s: %s)", type(exc).__name__, exc)
            await self.accept()
            await self.close(code=CLOSE_LIVE_PAUSED)
            return False
        self.groups = list(groups)
        await live.start_listening(self)
        self.listening = True
        return True

    async def disconnect(self, code):
        if self.listening:
            live.stop_listening(self)
            self.listening = False

    async def dataset_event(self, message):
        """One update (catalog.live.event_message), passed on if this socket's user may hear it.

        The message carries who may see the dataset (its audience, which never changes, so a
        deletion is judged like any other event) and the client's frame already encoded, with
        and without server paths: nothing here reads the database or encodes per socket.
        """
        user = self.scope["user"]
        if not permissions.may_hear(user, message.get("audience")):
            return
        await self.send(text_data=message["text"] if permissions.can_see_server_paths(user) else message["public_text"])


class DatasetListConsumer(_LiveConsumer):
    """ws/datasets/: updates about every dataset.

    On connect, the snapshot is one {"event": "snapshot", "dataset": state} message per dataset
    of the page the client shows (the socket URL carries the page's query string: status,
    source, search, ordering, page, page_size; without one, the first page, newest first), in
    the same shape as every other message so a client has one handler; then created / progress
    / status / deleted events about every dataset as they happen.
    """

    async def connect(self):
        if not self.scope["user"].is_authenticated:
            await self.close()
            return
        if not await self.subscribe(live.ALL_DATASETS_GROUP):
            return
        await self.accept()
        query_string = self.scope.get("query_string", b"").decode("latin-1")
        for state in await database_sync_to_async(page_states)(query_string, self.scope["user"]):
            await self.send_json({"event": "snapshot", "dataset": state})


class DatasetConsumer(_LiveConsumer):
    """ws/datasets/<uuid>/: updates about one dataset.

    On connect, one {"event": "snapshot", "dataset": state} message, then progress / status /
    deleted events. If the dataset does not exist, the socket is accepted and closed at once with
    code 4404, so the page can tell "gone" from "connection lost".
    """

    async def connect(self):
        if not self.scope["user"].is_authenticated:
            await self.close()
            return
        dataset_id = self.scope["url_route"]["kwargs"]["dataset_id"]
        if not await self.subscribe(live.dataset_group(dataset_id)):
            return
        await self.accept()
        # A dataset this user may not see is "not found", exactly like one that does not exist.
        user = self.scope["user"]
        states = await database_sync_to_async(_states)(user, permissions.visible_datasets(user).filter(pk=dataset_id))
        if not states:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json({"event": "snapshot", "dataset": states[0]})


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any other ws/ path: the handshake is refused (HTTP 403) rather than failing in the router."""

    async def connect(self):
        await self.close()
