/* hfdatasets pages: shared helpers, in-place updates of dataset cards, and the action buttons.
 *
 * Plain JavaScript, no build step. Every button also works without JavaScript (plain forms
 * and links to server views); this file makes them call the REST API instead, so the page
 * does not reload. live.js feeds WebSocket messages into hfd.applyState / hfd.removeDataset.
 */
(function () {
  "use strict";

  // The status rules come from the server (Dataset.status_rules(), rendered by base.html).
  var rulesScript = document.getElementById("hfd-status-rules");
  var RULES = rulesScript ? JSON.parse(rulesScript.textContent) : { active: [], retryable: [], labels: {} };
  var ACTIVE = RULES.active;
  var RETRYABLE = RULES.retryable;
  var LABELS = RULES.labels;
  var PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000";
  var body = document.body;
  var apiRoot = body.getAttribute("data-api-root") || "/api/v1/";

  // ------------------------------------------------------------------ formatting

  /* Same units as Django's filesizeformat (1024-based, "KB", "MB"), so server and live text agree. */
  function formatBytes(n) {
    if (n === null || n === undefined || n === "" || isNaN(n)) return "—";
    n = Number(n);
    if (n < 1024) return n + (n === 1 ? " byte" : " bytes");
    var units = ["KB", "MB", "GB", "TB", "PB"];
    var i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(1) + "\u00a0" + units[i];
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var pad = function (x) { return (x < 10 ? "0" : "") + x; };
    if (h) return h + " h " + pad(m) + " min";
    if (m) return m + " min " + pad(sec) + " s";
    return sec + " s";
  }

  function formatNumber(n) {
    return Number(n).toLocaleString("en-US");
  }

  // ------------------------------------------------------------------ CSRF, fetch, messages

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* fetch() against the API with the session cookie and the CSRF token; resolves {ok, status, data}. */
  function api(method, path) {
    return fetch(apiRoot + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = {};
        try { data = text ? JSON.parse(text) : {}; } catch (e) { data = {}; }
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function problem(result, fallback) {
    if (result.status === 401) {
      return "Your session has ended. Reload the page and log in again.";
    }
    if (result.status === 403) {
      return (result.data && result.data.detail) || "You are not allowed to do this.";
    }
    return (result.data && result.data.detail) || fallback + " (HTTP " + result.status + ").";
  }

  var messages = document.getElementById("messages");

  /* A dismissible message at the top of the page, like Django's messages. Text only. */
  function flash(text, level) {
    if (!messages) return;
    var box = document.createElement("div");
    box.className = "message message-" + (level || "info");
    box.setAttribute("role", level === "error" ? "alert" : "status");
    var span = document.createElement("span");
    span.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "message-close";
    close.setAttribute("aria-label", "Dismiss");
    close.setAttribute("data-dismiss", "");
    close.textContent = "×";
    box.appendChild(span);
    box.appendChild(close);
    messages.appendChild(box);
    if (level !== "error") setTimeout(function () { box.remove(); }, 8000);
  }

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-dismiss]");
    if (close) close.closest(".message").remove();
  });

  // A message carried over a page change (e.g. "Deleted …" after deleting from the detail page).
  try {
    var carried = sessionStorage.getItem("hfd-flash");
    if (carried) {
      sessionStorage.removeItem("hfd-flash");
      carried = JSON.parse(carried);
      flash(carried.text, carried.level);
    }
  } catch (e) { /* storage unavailable: nothing carried */ }

  // ------------------------------------------------------------------ updating the page

  function elementsFor(id) {
    return Array.prototype.slice.call(document.querySelectorAll('[data-dataset-id="' + id + '"]'));
  }

  function setText(root, field, text) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) { el.textContent = text; });
  }

  function showPart(root, selector, visible) {
    root.querySelectorAll(selector).forEach(function (el) { el.hidden = !visible; });
  }

  /* Apply one dataset state to every element showing that dataset (card, detail page, storage row).
   * The REST API and the live messages send the same state (DatasetStateSerializer): no translation. */
  function applyState(state) {
    if (!state || !state.id) return;
    elementsFor(state.id).forEach(function (root) { applyTo(root, state); });
  }

  function applyTo(root, state) {
    // Messages can overtake each other (an API answer and a live update): never go back in time.
    var known = Date.parse(root.getAttribute("data-updated-at") || "");
    var incoming = Date.parse(state.updated_at || "");
    if (!isNaN(known) && !isNaN(incoming) && incoming < known) return;
    if (!isNaN(incoming)) root.setAttribute("data-updated-at", state.updated_at);

    var previous = root.getAttribute("data-status");
    var status = state.status || previous;
    var active = ACTIVE.indexOf(status) !== -1;
    root.setAttribute("data-status", status);

    root.querySelectorAll('[data-field="status"]').forEach(function (badge) {
      badge.textContent = LABELS[status] || status;
      badge.setAttribute("data-status", status);
    });
    if (state.name !== undefined && state.name !== null) {
      root.setAttribute("data-name", state.name);
      setText(root, "name", state.name);
    }
    if (state.repo_id !== undefined) setText(root, "repo_id", state.repo_id || "Local file");
    ["subset", "split"].forEach(function (field) {
      if (state[field] === undefined) return;
      root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) {
        el.textContent = state[field] || "";
        el.hidden = !state[field];
      });
    });

    // Progress: bar, bytes, percent, speed, time left.
    var total = state.total_bytes;
    var done = state.downloaded_bytes;
    root.querySelectorAll('progress[data-field="progress"]').forEach(function (bar) {
      if (total) {
        bar.value = Math.max(0, Math.min(100, Number(state.progress_percent) || 0));
        bar.textContent = bar.value + "%";
      } else if (status !== "ready") {
        bar.removeAttribute("value"); // indeterminate until the size is known
      }
    });
    if (done !== undefined) {
      setText(root, "bytes", formatBytes(done) + (total ? " of " + formatBytes(total) : ""));
    }
    setText(root, "percent", total ? (Number(state.progress_percent) || 0).toFixed(1) + "%" : "");
    var downloading = status === "downloading";
    setText(root, "speed", downloading && state.bytes_per_second ? formatBytes(state.bytes_per_second) + "/s" : "—");
    setText(root, "eta", downloading && state.eta_seconds !== null && state.eta_seconds !== undefined
      ? formatDuration(state.eta_seconds) + " left" : (status === "processing" ? "converting to Arrow…" : "—"));

    if (state.total_samples !== undefined) {
      root.querySelectorAll('[data-field="total_samples"]').forEach(function (el) {
        var suffix = el.closest(".card") ? " rows" : "";
        el.textContent = state.total_samples === null ? (suffix ? "" : "—") : formatNumber(state.total_samples) + suffix;
      });
    }
    if (state.error_message !== undefined) setText(root, "error_message", state.error_message || "");

    var failed = RETRYABLE.indexOf(status) !== -1;
    showPart(root, '[data-part="progress"]', active);
    showPart(root, '[data-part="ready"]', status === "ready");
    var errorText = state.error_message !== undefined ? state.error_message : root.querySelector('[data-field="error_message"]') && root.querySelector('[data-field="error_message"]').textContent;
    showPart(root, '[data-part="error"]', failed && !!errorText);
    showPart(root, '[data-action="cancel"]', active);
    showPart(root, '[data-action="retry"]', failed);
    if (root.hasAttribute("data-detail-page")) showPart(root, "[data-live-state]", active);

    // What a delete frees: while downloading, at least the bytes fetched so far; once ready, the
    // size the pipeline recorded (not in live messages, so asked for once).
    if (active && done) {
      root.setAttribute("data-disk-used", String(Math.max(Number(root.getAttribute("data-disk-used") || 0), done)));
    }
    if (status === "ready" && previous && previous !== "ready") refreshDiskUsed(state.id);

    // The detail page lays out rows and statistics on the server: fetch it again once ready.
    if (root.hasAttribute("data-detail-page") && status === "ready" && previous && previous !== "ready") {
      showPart(root, '[data-part="ready-notice"]', true);
      setTimeout(function () { window.location.reload(); }, 1200);
    }
  }

  function refreshDiskUsed(id) {
    api("GET", "datasets/" + id + "/").then(function (result) {
      if (!result.ok || result.data.size_on_disk === null || result.data.size_on_disk === undefined) return;
      elementsFor(id).forEach(function (el) {
        el.setAttribute("data-disk-used", String(result.data.size_on_disk));
        setText(el, "disk_used", formatBytes(result.data.size_on_disk));
      });
    });
  }

  /* The storage page's totals, after a row left it. */
  function storageRowRemoved(row) {
    var bytes = Number(row.getAttribute("data-disk-used") || 0);
    document.querySelectorAll("[data-storage-total]").forEach(function (el) {
      var total = Math.max(0, Number(el.getAttribute("data-storage-total")) - bytes);
      el.setAttribute("data-storage-total", String(total));
      el.textContent = formatBytes(total);
    });
    document.querySelectorAll("[data-storage-count]").forEach(function (el) {
      var count = Math.max(0, Number(el.getAttribute("data-storage-count")) - 1);
      el.setAttribute("data-storage-count", String(count));
      el.textContent = count + " dataset" + (count === 1 ? "" : "s");
    });
  }

  /* Remove a dataset from the page. On its own detail page, say so and go back to the list. */
  function removeDataset(id, options) {
    var listUrl = body.getAttribute("data-list-url") || "/";
    elementsFor(id).forEach(function (el) {
      if (el.hasAttribute("data-detail-page")) {
        var text = "“" + (el.getAttribute("data-name") || "This dataset") + "” was deleted.";
        if (options && options.remote) {
          flash(text, "warning");
          el.querySelectorAll("[data-actions]").forEach(function (a) { a.hidden = true; });
        } else {
          try { sessionStorage.setItem("hfd-flash", JSON.stringify({ text: text, level: "success" })); } catch (e) { /* ignore */ }
          window.location.assign(listUrl);
        }
        return;
      }
      if (el.tagName === "TR") storageRowRemoved(el);
      el.classList.add("is-removing");
      setTimeout(function () { el.remove(); updateEmptyState(); }, 260);
    });
  }

  function updateEmptyState() {
    var container = document.getElementById("dataset-cards");
    var empty = document.querySelector("[data-empty]");
    if (container && empty) empty.hidden = container.querySelector(".card") !== null;
  }

  /* A dataset created elsewhere: add its card on the first page of a list whose filters it matches. */
  function datasetCreated(state) {
    if (!state || !state.id) return;
    if (elementsFor(state.id).length) { applyState(state); return; }
    var container = document.getElementById("dataset-cards");
    var template = document.getElementById("dataset-card-template");
    if (!container || !template || !container.getAttribute("data-insert-new")) return;
    var wantStatus = container.getAttribute("data-filter-status");
    var wantText = (container.getAttribute("data-filter-search") || "").toLowerCase();
    if (wantStatus && wantStatus !== state.status) return;
    if (wantText && ((state.name || "") + " " + (state.repo_id || "")).toLowerCase().indexOf(wantText) === -1) return;

    var fragment = template.content.cloneNode(true);
    var card = fragment.querySelector(".card");
    // The template was rendered for a placeholder id: point its links and forms at this dataset.
    [card].concat(Array.prototype.slice.call(card.querySelectorAll("*"))).forEach(function (el) {
      ["href", "action", "data-dataset-id"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value && value.indexOf(PLACEHOLDER_ID) !== -1) el.setAttribute(attr, value.split(PLACEHOLDER_ID).join(state.id));
      });
    });
    card.setAttribute("data-updated-at", "");
    card.setAttribute("data-disk-used", "0");
    var time = card.querySelector(".card-time");
    if (time) time.textContent = "Added just now";
    card.classList.add("is-new");
    container.insertBefore(fragment, container.firstChild);
    applyTo(container.querySelector('[data-dataset-id="' + state.id + '"]'), state);
    updateEmptyState();
  }

  // ------------------------------------------------------------------ action buttons

  function datasetRoot(el) {
    return el.closest("[data-dataset-id]");
  }

  function busy(el, on) {
    el.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
    el.classList.toggle("is-busy", on);
  }

  // Cancel and Retry: the forms post to server views without JavaScript; here they call the API.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var action = form.getAttribute("data-action");
    if (action !== "cancel" && action !== "retry") return;
    var root = datasetRoot(form);
    if (!root) return;
    event.preventDefault();
    var id = root.getAttribute("data-dataset-id");
    busy(form, true);
    api("POST", "datasets/" + id + "/" + action + "/").then(function (result) {
      busy(form, false);
      if (result.ok) {
        applyState(result.data);
      } else if (result.status === 404) {
        removeDataset(id, { remote: true });
      } else {
        flash(problem(result, action === "cancel" ? "Could not cancel" : "Could not retry"), "error");
      }
    }).catch(function () {
      busy(form, false);
      flash("The server could not be reached. Check the connection and try again.", "error");
    });
  });

  // Delete: a confirmation that says how much space it frees, then DELETE through the API.
  var dialog = document.getElementById("confirm-delete");

  function confirmDelete(root) {
    var name = root.getAttribute("data-name") || "this dataset";
    var frees = formatBytes(Number(root.getAttribute("data-disk-used") || 0));
    var active = ACTIVE.indexOf(root.getAttribute("data-status")) !== -1;
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.confirm("Delete " + name + "? This frees " + frees + " on disk."));
    }
    dialog.querySelector("[data-confirm-name]").textContent = name;
    dialog.querySelector("[data-confirm-frees]").textContent = frees;
    dialog.querySelector("[data-confirm-active]").hidden = !active;
    dialog.returnValue = "";
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        resolve(dialog.returnValue === "confirm");
      });
      dialog.showModal();
      dialog.querySelector('button[value="cancel"]').focus();
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest('a[data-action="delete"]');
    if (!link) return;
    var root = datasetRoot(link);
    if (!root) return;
    event.preventDefault();
    var id = root.getAttribute("data-dataset-id");
    var name = root.getAttribute("data-name") || "the dataset";
    confirmDelete(root).then(function (confirmed) {
      if (!confirmed) return;
      link.classList.add("is-busy");
      api("DELETE", "datasets/" + id + "/").then(function (result) {
        link.classList.remove("is-busy");
        if (result.ok || result.status === 404) {
          if (!root.hasAttribute("data-detail-page")) flash("Deleted " + name + ".", "success");
          removeDataset(id);
        } else {
          flash(problem(result, "Could not delete " + name), "error");
        }
      }).catch(function () {
        link.classList.remove("is-busy");
        flash("The server could not be reached. Check the connection and try again.", "error");
      });
    });
  });

  window.hfd = {
    applyState: applyState,
    removeDataset: removeDataset,
    datasetCreated: datasetCreated,
    flash: flash,
    formatBytes: formatBytes,
    formatDuration: formatDuration,
    csrfToken: csrfToken
  };
})();
