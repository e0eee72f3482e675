// Pages without the record form: ask before anything destructive or final (remove a contact point, decline
// or confirm a branch activity, submit or redraft a year-end summary, reject a problem). A form's
// data-confirm asks on any submit; a button's data-confirm asks only when that button is pressed. The record
// form itself uses observations.js, which does the same.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (ev) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
})();
