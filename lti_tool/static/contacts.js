// Contact pages without the record form: ask before anything destructive or final (remove a contact point,
// decline or confirm a branch activity). The record form itself uses observations.js, which does the same.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
})();
