/* Live updates over the WebSocket: /ws/datasets/ on the list, /ws/datasets/<id>/ on a detail page.
 *
 * Messages: {"event": "created"|"progress"|"status"|"deleted"|"snapshot", "dataset": {...}};
 * a snapshot may also carry a list under "datasets". If the connection drops, it reconnects
 * with exponential backoff (1 s doubling to 30 s, with jitter) and the server's snapshot
 * brings the page up to date again.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-live-path]");
  if (!root || !("WebSocket" in window) || !window.hfd) return;

  var indicators = document.querySelectorAll("[data-live-state]");
  var socket = null;
  var attempt = 0;
  var timer = null;
  var stopped = false;
  // Close code of ws/datasets/<uuid>/ when the dataset does not exist (catalog/consumers.py).
  var CLOSE_NOT_FOUND = 4404;

  function setState(state, text) {
    indicators.forEach(function (el) {
      el.setAttribute("data-state", state);
      el.textContent = text;
    });
  }

  function url() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + root.getAttribute("data-live-path");
  }

  function connect() {
    clearTimeout(timer);
    if (stopped || socket) return;
    setState("connecting", "connecting…");
    try {
      socket = new WebSocket(url());
    } catch (e) {
      socket = null;
      retryLater();
      return;
    }
    socket.addEventListener("open", function () {
      attempt = 0;
      setState("live", "live");
    });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      if (event.code === CLOSE_NOT_FOUND) {
        // The server says this dataset does not exist (deleted while we were away): stop trying.
        stopped = true;
        setState("off", "deleted");
        var id = root.getAttribute("data-dataset-id");
        if (id) window.hfd.removeDataset(id, { remote: true });
        return;
      }
      if (!stopped) retryLater();
    });
    // An error is always followed by "close", which schedules the reconnect.
  }

  function retryLater() {
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.8 + Math.random() * 0.4);
    attempt += 1;
    setState("connecting", "live updates paused, reconnecting in " + Math.round(delay / 1000) + " s");
    timer = setTimeout(connect, delay);
  }

  // The datasets page's status tabs count every dataset, not only this page's cards: keep them
  // current from the same messages. The snapshot holds only this page's datasets, but events come
  // about every dataset. The server counted every dataset created before the page was rendered:
  // one created later is new (+1); for one counted by the server that we have not seen yet, a
  // status or deleted event says which status it leaves (previous_status).
  var tabs = document.querySelector("[data-status-tabs]");
  var counted = {};  // dataset id -> {status, updated_at} last counted

  function addToTab(status, delta) {
    tabs.querySelectorAll('[data-status-tab="' + status + '"] [data-count]').forEach(function (el) {
      el.textContent = String(Math.max(0, (parseInt(el.textContent, 10) || 0) + delta));
    });
  }

  function count(event, dataset, previousStatus) {
    if (!tabs || !dataset || !dataset.id) return;
    var before = counted[dataset.id];
    if (event === "deleted") {
      if (before && before.removed) return;
      var leaving = before ? before.status : previousStatus;
      counted[dataset.id] = { removed: true };
      if (!leaving) return;
      addToTab("", -1);
      addToTab(leaving, -1);
      return;
    }
    if (!dataset.status || (before && before.removed)) return;
    if (before && Date.parse(dataset.updated_at) < Date.parse(before.updated_at)) return; // overtaken
    counted[dataset.id] = { status: dataset.status, updated_at: dataset.updated_at };
    if (!before && newSinceRender(dataset)) {
      addToTab("", 1);
      addToTab(dataset.status, 1);
      return;
    }
    var from = before ? before.status : previousStatus;
    if (from && from !== dataset.status) {
      addToTab(from, -1);
      addToTab(dataset.status, 1);
    }
  }

  // A dataset created after the page was rendered (before the socket was up) is not on the page
  // and not in the server's counts: its first snapshot is treated like a "created" event.
  function newSinceRender(dataset) {
    var cards = document.getElementById("dataset-cards");
    var renderedAt = cards && Date.parse(cards.getAttribute("data-rendered-at") || "");
    return Boolean(renderedAt && dataset && Date.parse(dataset.created_at) > renderedAt);
  }

  function handle(message) {
    if (!message || typeof message !== "object") return;
    var dataset = message.dataset;
    (Array.isArray(message.datasets) ? message.datasets : [dataset]).forEach(function (d) {
      count(message.event, d, message.previous_status);
    });
    switch (message.event) {
      case "snapshot":
        (Array.isArray(message.datasets) ? message.datasets : (dataset ? [dataset] : [])).forEach(function (d) {
          if (newSinceRender(d)) window.hfd.datasetCreated(d);
          else window.hfd.applyState(d);
        });
        break;
      case "created":
        window.hfd.datasetCreated(dataset);
        break;
      case "progress":
      case "status":
        window.hfd.applyState(dataset);
        break;
      case "deleted":
        if (dataset && dataset.id) window.hfd.removeDataset(dataset.id, { remote: true });
        break;
    }
  }

  // Back online or back to the tab after a long sleep: try at once instead of waiting out the backoff.
  window.addEventListener("online", function () { attempt = 0; connect(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !socket) { attempt = 0; connect(); }
  });
  // Leaving the page closes the socket; coming back from the back/forward cache opens it again.
  window.addEventListener("pagehide", function () {
    stopped = true;
    clearTimeout(timer);
    if (socket) socket.close();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { stopped = false; attempt = 0; connect(); }
  });

  connect();
})();
