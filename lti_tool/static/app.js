// Tingke's page script. The session travels in the page, not in a cookie: every fetch carries it
// as a header (X-Tingke-Session) together with the CSRF token, so nothing depends on third-party cookies.
(function () {
  "use strict";
  var body = document.body;
  window.tingke = {
    session: body.getAttribute("data-session") || "",
    csrf: body.getAttribute("data-csrf") || "",
    fetch: function (url, options) {
      options = options || {};
      options.headers = Object.assign({
        "X-Tingke-Session": window.tingke.session,
        "X-CSRF-Token": window.tingke.csrf,
        "Accept": "application/json"
      }, options.headers || {});
      options.credentials = "omit";
      return fetch(url, options);
    }
  };
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.submit(); }
  });
  var autoform = document.querySelector("form[data-autopost]");
  if (autoform) { autoform.submit(); }
})();
