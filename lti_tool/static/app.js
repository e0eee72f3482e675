// Tingke's page script. Where the browser keeps Tingke's partitioned session cookie inside the LMS's
// iframe, the page carries no session at all and fetch calls send the cookie. Otherwise the page holds a
// short-lived link token (data-session): fetch calls send it as X-Tingke-Session, every answer brings a
// fresh one, and an open page renews it before it expires, rewriting its links and forms.
(function () {
  "use strict";
  var body = document.body;
  function renewed(token) {
    if (!token || token === window.tingke.session) { return; }
    window.tingke.session = token;
    var here = window.location.origin;
    document.querySelectorAll("a[href], form[action]").forEach(function (el) {
      var attr = el.tagName === "A" ? "href" : "action";
      var url = new URL(el.getAttribute(attr), window.location.href);
      if (url.origin !== here || !url.searchParams.has("s")) { return; }
      url.searchParams.set("s", token);
      el.setAttribute(attr, url.pathname + url.search + url.hash);
    });
    document.querySelectorAll('input[type="hidden"][name="s"]').forEach(function (el) { el.value = token; });
  }
  window.tingke = {
    session: body.getAttribute("data-session") || "",
    csrf: body.getAttribute("data-csrf") || "",
    fetch: function (url, options) {
      options = options || {};
      var headers = {"X-CSRF-Token": window.tingke.csrf, "Accept": "application/json"};
      if (window.tingke.session) { headers["X-Tingke-Session"] = window.tingke.session; }
      options.headers = Object.assign(headers, options.headers || {});
      options.credentials = "same-origin";  // the partitioned session cookie, where the browser keeps it
      return fetch(url, options).then(function (response) {
        renewed(response.headers.get("X-Tingke-Session"));
        return response;
      });
    }
  };
  var renewEvery = parseInt(body.getAttribute("data-session-renew") || "0", 10);
  var renewUrl = body.getAttribute("data-session-renew-url");
  if (window.tingke.session && renewUrl && renewEvery > 0) {
    window.setInterval(function () { window.tingke.fetch(renewUrl).catch(function () {}); }, renewEvery * 1000);
  }
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.submit(); }
  });
  // An error page's way back (templates/error.html): back in the history, where a refused form keeps its input.
  document.querySelectorAll("a[data-back]").forEach(function (link) {
    link.addEventListener("click", function (ev) {
      if (window.history.length > 1) { ev.preventDefault(); window.history.back(); }
    });
  });
  var autoform = document.querySelector("form[data-autopost]");
  if (autoform) { autoform.submit(); }
})();
