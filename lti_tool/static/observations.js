// The observation record form: server-side drafts saved while typing.
//
// Each change marks its field; 800 ms after the last keystroke the changed fields go to the autosave
// endpoint as JSON with the draft_version this page holds (tingke.fetch adds the session and CSRF
// headers; no cookie is involved). The server answers with the next version, or 409 when another tab or
// device saved first — then this page stops saving rather than overwrite newer text. Leaving the page
// flushes what is pending (keepalive), so a closed tab keeps its last words. Submit first flushes, then
// asks the server, which names each missing field; the messages appear next to the fields.
(function () {
  "use strict";
  var form = document.getElementById("record");
  if (!form || !window.tingke) { return; }
  var DELAY = 800;
  var statusEl = document.getElementById("save-status");
  var versionInput = form.querySelector("input[name=draft_version]");
  var pending = {};
  var timer = null;
  var inflight = null;
  var stopped = false;
  var msg = function (key) { return form.getAttribute("data-msg-" + key) || ""; };

  function setStatus(text, isError) {
    if (!statusEl) { return; }
    statusEl.textContent = text;
    statusEl.classList.toggle("field-error", !!isError);
  }

  function valueOf(name) {
    var els = form.querySelectorAll("[name='" + name + "']");
    var i, el;
    for (i = 0; i < els.length; i++) {
      el = els[i];
      if (el.type === "radio") { if (el.checked) { return el.value; } continue; }
      if (el.type === "checkbox") { return el.checked; }
    }
    for (i = els.length - 1; i >= 0; i--) {
      el = els[i];
      if (el.type !== "radio" && el.type !== "checkbox" && el.type !== "hidden") { return el.value; }
    }
    return "";
  }

  function showError(name, text) {
    var el = document.getElementById("err-" + name);
    if (el) { el.textContent = text || ""; }
  }

  function showSummary(fields) {
    var box = document.getElementById("missing-summary");
    if (!box) { return; }
    box.textContent = "";
    var names = Object.keys(fields || {});
    if (!names.length) { box.classList.add("hidden"); return; }
    var strong = document.createElement("strong");
    strong.textContent = msg("missing");
    box.appendChild(strong);
    var ul = document.createElement("ul");
    names.forEach(function (name) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "#f-" + name;
      var label = document.querySelector("#f-" + CSS.escape(name) + " legend, label[for='" + name + "']");
      a.textContent = label ? label.textContent.trim() : name;
      li.appendChild(a);
      li.appendChild(document.createTextNode(": " + fields[name]));
      ul.appendChild(li);
    });
    box.appendChild(ul);
    box.classList.remove("hidden");
    box.scrollIntoView({ block: "start" });
  }

  function stop(text) {
    stopped = true;
    clearTimeout(timer);
    setStatus(text, true);
  }

  function save(keepalive) {
    clearTimeout(timer);
    if (stopped) { return Promise.resolve(false); }
    if (inflight) {
      return inflight.then(function () { return save(keepalive); });
    }
    var names = Object.keys(pending);
    if (!names.length) { return Promise.resolve(true); }
    var fields = {};
    names.forEach(function (n) { fields[n] = valueOf(n); });
    pending = {};
    setStatus(msg("saving"));
    inflight = window.tingke.fetch(form.getAttribute("data-autosave-url"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ draft_version: parseInt(versionInput.value, 10), fields: fields }),
      keepalive: !!keepalive
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (res.status === 409 && body.redirect) { stop(body.error); window.location.href = body.redirect; return false; }
        if (res.status === 409) { stop(msg("conflict")); return false; }
        if (res.status === 422) {
          names.forEach(function (n) { pending[n] = true; showError(n, (body.fields || {})[n]); });
          setStatus(body.error || msg("unsaved"), true);
          return false;
        }
        if (!res.ok) {
          names.forEach(function (n) { pending[n] = true; });
          setStatus(body.error || msg("offline"), true);
          return false;
        }
        versionInput.value = body.draft_version;
        names.forEach(function (n) { showError(n, (body.invalid || {})[n]); });
        var late = document.getElementById("late-flag");
        if (late) { late.classList.toggle("hidden", !body.arrived_late); }
        setStatus(Object.keys(pending).length ? msg("unsaved") : msg("saved").replace("__TIME__", body.saved_at));
        return true;
      });
    }, function () {
      names.forEach(function (n) { pending[n] = true; });
      setStatus(msg("offline"), true);
      return false;
    }).then(function (ok) { inflight = null; return ok; });
    return inflight;
  }

  function changed(ev) {
    var el = ev.target;
    if (!el || !el.name || el.name === "draft_version" || el.type === "hidden" || el.name === "action") { return; }
    if (stopped) { return; }
    pending[el.name] = true;
    setStatus(msg("unsaved"));
    clearTimeout(timer);
    timer = setTimeout(function () { save(false); }, DELAY);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);

  function flushOnLeave() {
    if (Object.keys(pending).length) { save(true); }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flushOnLeave(); }
  });
  window.addEventListener("pagehide", flushOnLeave);

  function submitRecord() {
    return save(false).then(function (ok) {
      if (stopped || ok === false) { return; }
      return window.tingke.fetch(form.getAttribute("data-submit-url"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ draft_version: parseInt(versionInput.value, 10) })
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (res.ok && body.redirect) { window.location.href = body.redirect; return; }
          if (res.status === 409) { stop(body.error || msg("conflict")); return; }
          var fields = body.fields || {};
          form.querySelectorAll("[data-error-for]").forEach(function (el) {
            el.textContent = fields[el.getAttribute("data-error-for")] || "";
          });
          showSummary(fields);
          setStatus(body.error || msg("unsaved"), true);
        });
      });
    });
  }

  form.addEventListener("submit", function (ev) {
    var action = ev.submitter ? ev.submitter.getAttribute("data-action") : "save";
    ev.preventDefault();
    if (action === "submit") { submitRecord(); return; }
    Object.keys(pending).length ? save(false) : setStatus(statusEl ? statusEl.textContent : "");
  });

  // Other forms on the page (co-observers, problems, search) leave the page: save the record first.
  document.querySelectorAll("form[data-flush-first]").forEach(function (other) {
    other.addEventListener("submit", function (ev) {
      if (!Object.keys(pending).length) { return; }
      ev.preventDefault();
      save(false).then(function () { other.submit(); });
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (other) {
    other.addEventListener("submit", function (ev) {
      if (!window.confirm(other.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
})();
