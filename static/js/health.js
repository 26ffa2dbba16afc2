/* The health banner: every 10 s, GET /healthz and show its "problems" (no worker running, a
 * download stalled, the database away) above the page, so a stuck bar is explained. */
(function () {
  "use strict";

  var banner = document.querySelector("[data-health-banner]");
  if (!banner || !window.fetch) return;
  var INTERVAL = 10000;

  function show(problems) {
    banner.replaceChildren.apply(banner, problems.map(function (text) {
      var item = document.createElement("div");
      item.className = "message message-warning";
      item.setAttribute("role", "alert");
      item.textContent = text;
      return item;
    }));
    banner.hidden = problems.length === 0;
  }

  function poll() {
    fetch("/healthz", { cache: "no-store", credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (body) { show(Array.isArray(body.problems) ? body.problems : []); })
      .catch(function () { show(["The server cannot be reached: what you see may be out of date."]); })
      .finally(function () { setTimeout(poll, INTERVAL); });
  }

  setTimeout(poll, INTERVAL);
})();
