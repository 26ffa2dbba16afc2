/* The download form: look the dataset up on the Hub as the id is typed, offer its real subsets
 * and splits as selects, and show the size before starting.
 *
 * Without JavaScript the subset and split stay text inputs and the server checks them on submit.
 * GET /api/v1/hub/<repo_id>/?revision=<rev> answers
 *   200 {"repo_id", "revision", "sha", "private", "script_only", "configs": [{"name", "builder",
 *        "splits": [{"name", "num_files", "num_bytes", "buildable", "reason"}]}], "message", "parquet_export"}
 *   or {"detail": "..."} (404, 401/403, 502/504), or a 400 whose keys name fields.
 */
(function () {
  "use strict";

  var form = document.getElementById("download-form");
  if (!form || !window.hfd) return;

  var hubUrl = form.getAttribute("data-hub-url");
  var repo = form.elements.namedItem("repo_id");
  var revision = form.elements.namedItem("revision");
  var status = form.querySelector("[data-hub-status]");
  var summary = form.querySelector("[data-size-summary]");
  var formatBytes = window.hfd.formatBytes;

  // The original text inputs, kept to put back when the lookup fails or the id changes.
  var textInputs = { subset: form.elements.namedItem("subset"), split: form.elements.namedItem("split") };
  var info = null;
  var lastKey = null;
  // Said once with the lookup it is for (a script-only repo switched to its parquet export).
  var notice = null;
  var controller = null;
  var debounce = null;

  // A cheap local check so obviously incomplete ids are not sent; the server has the real rules.
  var LOOKS_LIKE_ID = /^[A-Za-z0-9_][A-Za-z0-9_.\-]*(\/[A-Za-z0-9_][A-Za-z0-9_.\-]*)?$/;

  function field(name) { return form.elements.namedItem(name); }

  function setErrors(name, messages) {
    var box = form.querySelector('[data-errors-for="' + name + '"]');
    var wrapper = form.querySelector('[data-field-wrapper="' + name + '"]');
    if (!box) return false;
    box.textContent = "";
    (messages || []).forEach(function (text) {
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = text;
      box.appendChild(p);
    });
    if (wrapper) wrapper.classList.toggle("field-invalid", !!(messages && messages.length));
    return true;
  }

  function showStatus(state, text) {
    status.hidden = !text;
    status.setAttribute("data-state", state);
    status.textContent = text || "";
  }

  /* Replace a text input by a select with the same name and id (so the label still points at it). */
  function toSelect(name, options, wanted) {
    var current = field(name);
    var select = document.createElement("select");
    select.name = name;
    select.id = textInputs[name].id;
    if (textInputs[name].getAttribute("aria-describedby")) {
      select.setAttribute("aria-describedby", textInputs[name].getAttribute("aria-describedby"));
    }
    options.forEach(function (option) {
      var el = document.createElement("option");
      el.value = option.value;
      el.textContent = option.label;
      // A split that cannot be built is shown, with why, but cannot be chosen.
      if (option.disabled) { el.disabled = true; el.title = option.title || ""; }
      select.appendChild(el);
    });
    var values = options.filter(function (o) { return !o.disabled; }).map(function (o) { return o.value; });
    select.value = values.indexOf(wanted) !== -1 ? wanted : (options.length ? options[0].value : "");
    current.replaceWith(select);
    return select;
  }

  function toText(name) {
    var current = field(name);
    if (current === textInputs[name]) return;
    textInputs[name].value = current.value;
    current.replaceWith(textInputs[name]);
  }

  function currentValue(name) {
    var el = field(name);
    return el ? el.value.trim() : "";
  }

  // A config called "default" is what an empty subset means; sending "" keeps one record per dataset.
  function subsetValue(name) { return name === "default" ? "" : name; }

  function selectedConfig() {
    if (!info) return null;
    var wanted = currentValue("subset");
    return info.configs.filter(function (c) { return subsetValue(c.name) === wanted; })[0] || info.configs[0] || null;
  }

  function fillSplits(wanted) {
    var config = selectedConfig();
    var splits = config ? config.splits : [];
    var select = toSelect("split", splits.map(function (s) {
      var label = s.name + " — " + formatBytes(s.num_bytes) + " in " + s.num_files + " file" + (s.num_files === 1 ? "" : "s");
      if (s.buildable === false) return { value: s.name, label: label + " — cannot be built", disabled: true, title: s.reason };
      return { value: s.name, label: label };
    }), wanted);
    select.addEventListener("change", showSize);
    showSize();
  }

  function upgrade() {
    var wantedSubset = subsetValue(currentValue("subset"));
    var wantedSplit = currentValue("split") || "train";
    var select = toSelect("subset", info.configs.map(function (c) {
      return { value: subsetValue(c.name), label: c.name };
    }), wantedSubset);
    select.addEventListener("change", function () { fillSplits(currentValue("split")); });
    fillSplits(wantedSplit);
  }

  function downgrade() {
    info = null;
    toText("subset");
    toText("split");
    summary.hidden = true;
  }

  var freeSpace = Number(form.getAttribute("data-free-space"));

  function showSize() {
    var config = selectedConfig();
    var split = config && config.splits.filter(function (s) { return s.name === currentValue("split"); })[0];
    if (!split || split.buildable === false) { summary.hidden = true; return; }
    var text = "This download is " + formatBytes(split.num_bytes) + " in " + split.num_files +
      " file" + (split.num_files === 1 ? "" : "s") + " (" + config.name + " / " + split.name + ").";
    if (!isNaN(freeSpace) && form.hasAttribute("data-free-space")) {
      text += " " + formatBytes(freeSpace) + " free on the server" +
        (split.num_bytes > freeSpace ? ": not enough room." : ".");
    }
    summary.hidden = false;
    summary.setAttribute("data-state", split.num_bytes > freeSpace ? "error" : "ok");
    summary.textContent = text;
  }

  function lookupUrl(id, rev) {
    var path = id.split("/").map(encodeURIComponent).join("/");
    return hubUrl + path + "/" + (rev ? "?revision=" + encodeURIComponent(rev) : "");
  }

  function lookup() {
    clearTimeout(debounce);
    var id = repo.value.trim();
    var rev = revision.value.trim();
    var key = id + "@" + rev;
    if (key === lastKey) return;
    lastKey = key;
    if (controller) controller.abort();
    setErrors("repo_id", []);
    setErrors("revision", []);
    if (!id || !LOOKS_LIKE_ID.test(id)) {
      downgrade();
      showStatus("", "");
      return;
    }
    controller = new AbortController();
    var mine = controller;
    showStatus("checking", "Looking up " + id + (rev ? " at " + rev : "") + " on the Hub…");
    fetch(lookupUrl(id, rev), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      signal: controller.signal
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = JSON.parse(text); } catch (e) { data = null; }
        return { status: response.status, ok: response.ok, data: data };
      });
    }).then(function (result) {
      if (mine !== controller) return; // a newer lookup replaced this one
      if (result.ok && result.data && result.data.script_only) {
        // A loading-script repo: offer the Hub's parquet export, or say there is none.
        var exported = result.data.parquet_export;
        if (exported && rev !== exported.revision) {
          notice = {
            key: id + "@" + exported.revision,
            text: result.data.message + " Showing its parquet export (" + exported.revision + ")."
          };
          revision.value = exported.revision;
          lookup();
          return;
        }
        downgrade();
        showStatus("error", result.data.message + " The Hub has no parquet export of it.");
        return;
      }
      if (result.ok && result.data && Array.isArray(result.data.configs)) {
        info = result.data;
        upgrade();
        var configs = info.configs.length;
        var found = "Found " + info.repo_id + (info.private ? " (private)" : "") + " at commit " +
          String(info.sha || "").slice(0, 10) + ": " + configs + " subset" + (configs === 1 ? "" : "s") + ".";
        var said = notice && notice.key === key ? notice.text + " " : "";
        notice = null;
        showStatus(said ? "warning" : "ok", said + found);
        return;
      }
      downgrade();
      explain(result);
    }).catch(function (error) {
      if (error && error.name === "AbortError") return;
      downgrade();
      showStatus("error", "The server could not be reached to look the dataset up. You can still start the download.");
    });
  }

  /* A failed lookup as a message a person can act on, next to the field it concerns. */
  function explain(result) {
    var data = result.data || {};
    var detail = typeof data.detail === "string" ? data.detail : "";
    if (result.status === 400 && !detail) {
      var named = false;
      Object.keys(data).forEach(function (key) {
        var list = Array.isArray(data[key]) ? data[key] : [String(data[key])];
        named = setErrors(key, list) || named;
      });
      showStatus("error", named ? "" : "The Hub lookup refused this input.");
      return;
    }
    var text = detail;
    if (!text) {
      if (result.status === 404) text = "No such dataset on the Hub. Check the id (and the revision).";
      else if (result.status === 401 || result.status === 403) text = "The Hub refused access: the dataset is private or gated, and the server's token cannot read it.";
      else if (result.status === 502 || result.status === 504) text = "The Hub could not be reached. Try again in a moment; you can also start the download and retry it later.";
      else text = "The dataset could not be looked up (HTTP " + result.status + ").";
    }
    if (result.status === 404 && /revision/i.test(text) && revision.value.trim()) {
      setErrors("revision", [text]);
      showStatus("", "");
    } else {
      showStatus("error", text);
    }
  }

  repo.addEventListener("input", function () {
    clearTimeout(debounce);
    debounce = setTimeout(lookup, 600);
  });
  repo.addEventListener("change", lookup);
  revision.addEventListener("change", lookup);
  form.addEventListener("input", function (event) {
    // Typing in a field clears the error shown for it.
    if (event.target.name && event.target.name !== "repo_id") setErrors(event.target.name, []);
  });

  // A form sent back with errors keeps its id: look it up again so the selects come back.
  if (repo.value.trim()) lookup();
})();
