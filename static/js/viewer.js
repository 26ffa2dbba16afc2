// The dataset viewer: everything works with plain links and GET forms (the view is in the URL);
// this only saves a click: choosing a page size or an operator applies at once.
(function () {
  "use strict";
  const size = document.querySelector("[data-viewer-size]");
  if (size) {
    size.addEventListener("change", () => size.form.submit());
  }
  const op = document.querySelector("[data-filter-op]");
  const value = document.querySelector("[data-filter-value]");
  if (op && value) {
    // "is null" and "is not null" take no value.
    const sync = () => {
      const none = op.value === "null" || op.value === "notnull";
      value.disabled = none;
      value.placeholder = none ? "" : "value";
    };
    op.addEventListener("change", sync);
    sync();
  }
})();
