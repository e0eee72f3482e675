// The record form (observations and contact records): saved on the server while typing, and kept on this
// device at every keystroke so a dead network, a reload or a closed tab loses nothing
// (docs/decisions.md S-2, S-3).
//
// Each change marks its field and is written at once to the device (pageStorage or partitionedCookies,
// below) under the institution, the person and the draft, with the draft_version the edits started from
// (never the session token). 800 ms after the last keystroke the changed fields go to the autosave endpoint
// as JSON with that version (tingke.fetch adds the session and CSRF headers). The server answers with the
// next version — the saved fields leave the local copy — or 409 when another tab or device saved first: the
// page then fetches the server's copy and, for each field changed here whose text differs from the
// server's, shows both texts and lets the person choose; nothing is overwritten silently. Offline (or on a
// server error) the text stays on the device, the status line says so, and saving resumes on the 'online'
// event or a retry timer. On load a local copy at the server's version is restored, marked "not yet saved
// on the server" and saved. Submitting needs the server: offline it is refused here. Submit and discard
// remove the local copy; copies expire after KEEP_DAYS, and a copy of another person is never read.
(function () {
  "use strict";
  var form = document.getElementById("record");
  if (!form || !window.tingke) { return; }
  var DELAY = 800;
  var RETRY_FIRST = 3000;
  var RETRY_MAX = 30000;
  var KEEP_DAYS = 14;
  var PREFIX = "tingke-draft:";
  var statusEl = document.getElementById("save-status");
  var versionInput = form.querySelector("input[name=draft_version]");
  var owner = form.getAttribute("data-draft-owner") || "";
  var key = owner ? PREFIX + owner + ":" + form.getAttribute("data-autosave-url") : null;
  var store = key ? (pageStorage() || partitionedCookies()) : null;
  var kept = true;           // false when the last local write failed (storage full or refused)
  var pending = {};          // changed since the last save was sent
  var dirty = {};            // name → true: changed on this device, not yet saved on the server
  var serverValues = {};     // name → what the server holds, as far as this page knows
  var conflicts = {};        // name → the server's value, while the person has not chosen
  var conflictVersion = null;
  var timer = null;
  var retryTimer = null;
  var retryDelay = RETRY_FIRST;
  var inflight = null;
  var stopped = false;
  var msg = function (k) { return form.getAttribute("data-msg-" + k) || ""; };

  // Where the local copy lives. localStorage where the browser gives an embedded tool storage of its own
  // (partitioned under the LMS's site); a browser that blocks third-party cookies (Chromium) denies an
  // iframe all storage but partitioned (CHIPS) cookies, so there the copy is written into such cookies,
  // scoped to this page's path (so only this page's own load carries them) and capped well below
  // the request header limits (COOKIE_BYTES); they expire by themselves after KEEP_DAYS.
  function pageStorage() {
    try {
      var s = window.localStorage;
      s.setItem(PREFIX + "probe", "1");
      s.removeItem(PREFIX + "probe");
    } catch (e) { return null; }
    return {
      get: function () { return window.localStorage.getItem(key); },
      set: function (text) { window.localStorage.setItem(key, text); },
      remove: function () { window.localStorage.removeItem(key); },
      sweep: function () {
        var ls = window.localStorage;
        var mine = PREFIX + owner + ":";
        var oldest = Date.now() - KEEP_DAYS * 24 * 3600 * 1000;
        var drop = [];
        for (var i = 0; i < ls.length; i++) {
          var k = ls.key(i);
          if (!k || k.indexOf(PREFIX) !== 0) { continue; }
          var copy = null;
          try { copy = JSON.parse(ls.getItem(k) || "null"); } catch (e) { copy = null; }
          if (k.indexOf(mine) !== 0 || !copy || !(copy.at > oldest)) { drop.push(k); }
        }
        drop.forEach(function (k) { ls.removeItem(k); });
      }
    };
  }

  function partitionedCookies() {
    var CHUNK = 3000;
    var CHUNKS = 2;
    var hash = 5381;
    for (var i = 0; i < key.length; i++) { hash = ((hash * 33) ^ key.charCodeAt(i)) >>> 0; }
    var name = "tkd" + hash.toString(36) + "_";
    var attrs = "; Path=" + window.location.pathname + "; Secure; SameSite=None; Partitioned";
    function encode(text) {  // UTF-16 code units as base64: 2.7 bytes a Chinese character, cookie-safe
      var bin = "";
      for (var j = 0; j < text.length; j++) {
        var c = text.charCodeAt(j);
        bin += String.fromCharCode(c & 255, c >> 8);
      }
      return btoa(bin).replace(/=+$/, "");
    }
    function decode(b64) {
      var bin = atob(b64);
      var out = "";
      for (var j = 0; j + 1 < bin.length; j += 2) { out += String.fromCharCode(bin.charCodeAt(j) | (bin.charCodeAt(j + 1) << 8)); }
      return out;
    }
    function chunks() {
      var found = {};
      document.cookie.split("; ").forEach(function (c) {
        var eq = c.indexOf("=");
        if (c.indexOf(name) === 0 && eq > 0) { found[c.slice(name.length, eq)] = c.slice(eq + 1); }
      });
      var parts = [];
      for (var n = 0; n < CHUNKS && found[n] !== undefined; n++) { parts.push(found[n]); }
      return parts.join("");
    }
    function remove() {
      for (var n = 0; n < CHUNKS; n++) { document.cookie = name + n + "=; Max-Age=0" + attrs; }
    }
    try {
      document.cookie = name + "probe=1; Max-Age=60" + attrs;
      if (document.cookie.indexOf(name + "probe=1") === -1) { return null; }
      document.cookie = name + "probe=; Max-Age=0" + attrs;
    } catch (e) { return null; }
    return {
      get: function () { var b64 = chunks(); return b64 ? decode(b64) : null; },
      set: function (text) {
        var b64 = encode(text);
        if (b64.length > CHUNK * CHUNKS) { throw new Error("too long to keep on this device"); }
        remove();
        for (var n = 0; n * CHUNK < b64.length; n++) {
          document.cookie = name + n + "=" + b64.slice(n * CHUNK, (n + 1) * CHUNK) + "; Max-Age=" + KEEP_DAYS * 86400 + attrs;
        }
        if (chunks() !== b64) { throw new Error("not kept"); }
      },
      remove: remove,
      sweep: function () { /* the browser expires the cookies; another person's copy is refused on reading */ }
    };
  }

  // -- the status line ---------------------------------------------------------------------------------------
  function setStatus(text, state) {
    if (!statusEl) { return; }
    statusEl.textContent = text;
    statusEl.setAttribute("data-state", state || "");
    // The notes "not yet saved on the server" show only while the text waits on the device: online saving
    // takes a second, and notes coming and going while typing would move the form under the finger.
    form.classList.toggle("kept-here", ["offline", "error", "conflict", "restored"].indexOf(state) !== -1);
    statusEl.classList.toggle("field-error", state === "offline" || state === "conflict" || state === "error");
  }

  // -- field values ------------------------------------------------------------------------------------------
  function fieldNames(root) {
    var names = {};
    root.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (el) {
      if (el.name === "draft_version" || el.name === "action" || el.name.indexOf("csrf") !== -1) { return; }
      if (el.type === "hidden" && root.querySelectorAll("[name='" + el.name + "']").length === 1) { return; }
      names[el.name] = true;
    });
    return Object.keys(names);
  }

  function valueIn(root, name) {
    var els = root.querySelectorAll("[name='" + name + "']");
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
  function valueOf(name) { return valueIn(form, name); }

  function setValue(name, value) {
    var els = form.querySelectorAll("[name='" + name + "']");
    els.forEach(function (el) {
      if (el.type === "radio") { el.checked = el.value === value; }
      else if (el.type === "checkbox") { el.checked = value === true; }
      else if (el.type !== "hidden") { el.value = value; }
    });
  }

  function labelOf(name) {
    var el = form.querySelector("[name='" + name + "']:not([type=hidden])");
    var label = document.querySelector("label[for='" + CSS.escape(name) + "']")
      || document.querySelector("#f-" + CSS.escape(name) + " legend")
      || (el && el.closest("fieldset") ? el.closest("fieldset").querySelector("legend") : null);
    return label ? label.textContent.trim() : name;
  }

  function shown(name, value) {
    var el = form.querySelector("[name='" + name + "']:not([type=hidden])");
    if (!el) { return String(value); }
    if (el.type === "checkbox") { return value === true ? "✓" : "✗"; }
    if (el.type === "radio") {
      var match = form.querySelector("[name='" + name + "'][value='" + CSS.escape(String(value)) + "']");
      var label = match ? match.closest("label") : null;
      return label ? label.textContent.trim() : (value ? String(value) : "—");
    }
    if (el.tagName === "SELECT") {
      var option = Array.prototype.find.call(el.options, function (o) { return o.value === value; });
      return option ? option.textContent.trim() : String(value);
    }
    return value === "" ? "—" : String(value);
  }

  // -- "not yet saved on the server" next to each field --------------------------------------------------------
  function markField(name, on) {
    var anchor = form.querySelector("[name='" + name + "']:not([type=hidden])");
    if (!anchor) { return; }
    var note = form.querySelector(".unsynced-note[data-for='" + CSS.escape(name) + "']");
    form.querySelectorAll("[name='" + name + "']").forEach(function (el) { el.classList.toggle("unsynced", on); });
    if (on && !note) {
      note = document.createElement("span");
      note.className = "unsynced-note";
      note.setAttribute("data-for", name);
      note.textContent = msg("field-unsynced");
      var all = form.querySelectorAll("[name='" + name + "']");
      var after = all[all.length - 1];
      after = after.closest(".scale") || after.closest("label.check") || after;
      after.parentNode.insertBefore(note, after.nextSibling);
    } else if (!on && note) {
      note.remove();
    }
  }

  // -- the local copy ----------------------------------------------------------------------------------------
  function readLocal() {
    if (!store) { return null; }
    try {
      var copy = JSON.parse(store.get() || "null");
      if (copy && copy.owner === owner && copy.fields && typeof copy.base === "number") { return copy; }
      if (copy) { store.remove(); }
    } catch (e) { /* unreadable: ignore */ }
    return null;
  }

  function writeLocal() {
    if (!store) { kept = false; return; }
    var names = Object.keys(dirty);
    try {
      if (!names.length) { store.remove(); kept = true; return; }
      var fields = {};
      names.forEach(function (n) { fields[n] = valueOf(n); });
      store.set(JSON.stringify({ owner: owner, base: parseInt(versionInput.value, 10), at: Date.now(), fields: fields }));
      kept = true;
    } catch (e) {
      kept = false;  // storage full or refused: the server autosave still runs, and the status says so
    }
  }

  function removeLocal() {
    if (store) { try { store.remove(); } catch (e) { /* nothing to remove */ } }
  }

  // -- saving ------------------------------------------------------------------------------------------------
  function stop(text) {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(retryTimer);
    setStatus(text, "error");
  }

  function isOffline() { return navigator.onLine === false; }

  function retryLater(state, text) {
    setStatus(text, state);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(resume, retryDelay);
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX);
  }

  function resume() {
    clearTimeout(retryTimer);
    if (stopped) { return; }
    if (conflictVersion === "unknown") { reconcile(); return; }
    if (Object.keys(pending).length) { save(false); }
  }

  function offlineText() { return kept ? msg("offline") : msg("offline-not-kept"); }

  function unsavedStatus() {
    var waiting = kept ? msg("unsaved") : msg("field-unsynced");
    setStatus(isOffline() ? offlineText() : waiting, isOffline() ? "offline" : "unsaved");
  }

  // Resolves to "ok", "offline", "conflict", "invalid" or "error".
  function save(keepalive) {
    clearTimeout(timer);
    if (stopped) { return Promise.resolve("error"); }
    if (conflictVersion !== null) { return Promise.resolve("conflict"); }
    if (inflight) {
      return inflight.then(function () { return save(keepalive); });
    }
    var names = Object.keys(pending);
    if (!names.length) { return Promise.resolve("ok"); }
    if (isOffline()) { retryLater("offline", offlineText()); return Promise.resolve("offline"); }
    var fields = {};
    names.forEach(function (n) { fields[n] = valueOf(n); });
    pending = {};
    setStatus(msg("saving"), "saving");
    inflight = window.tingke.fetch(form.getAttribute("data-autosave-url"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ draft_version: parseInt(versionInput.value, 10), fields: fields }),
      keepalive: !!keepalive
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (res.status === 409 && body.redirect) {
          removeLocal();
          stop(body.error);
          window.location.href = body.redirect;
          return "error";
        }
        if (!res.ok) { names.forEach(function (n) { pending[n] = true; }); }
        if (res.status === 409) { return reconcile(); }
        if (res.status === 422) {
          names.forEach(function (n) { showError(n, (body.fields || {})[n]); });
          setStatus(body.error || msg("unsaved"), "error");
          return "invalid";
        }
        if (!res.ok) {
          retryLater("error", body.error || msg("retrying"));
          return "error";
        }
        retryDelay = RETRY_FIRST;
        versionInput.value = body.draft_version;
        names.forEach(function (n) {
          serverValues[n] = fields[n];
          showError(n, (body.invalid || {})[n]);
          if (!pending[n]) { delete dirty[n]; markField(n, false); }
        });
        writeLocal();
        var late = document.getElementById("late-flag");
        if (late) { late.classList.toggle("hidden", !body.arrived_late); }
        if (Object.keys(pending).length) {
          unsavedStatus();
          clearTimeout(timer);
          timer = setTimeout(function () { save(false); }, DELAY);
        } else {
          setStatus(msg("saved").replace("__TIME__", body.saved_at), "saved");
        }
        return "ok";
      });
    }, function () {
      names.forEach(function (n) { pending[n] = true; });
      retryLater("offline", offlineText());
      return "offline";
    }).then(function (outcome) { inflight = null; return outcome; });
    return inflight;
  }

  // -- the server changed the draft meanwhile: compare, and let the person choose ------------------------------
  function serverCopy() {
    var url = new URL(window.location.href);
    url.searchParams.delete("s");  // the session travels in the cookie or in tingke.fetch's header
    return window.tingke.fetch(url.pathname + url.search, { headers: { "Accept": "text/html" } })
      .then(function (res) { return res.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var other = doc.getElementById("record");
        var version = other ? other.querySelector("input[name=draft_version]") : null;
        if (!other || !version) { return null; }
        var values = {};
        fieldNames(other).forEach(function (n) { values[n] = valueIn(other, n); });
        return { version: parseInt(version.value, 10), values: values };
      });
  }

  function reconcile() {
    conflictVersion = "unknown";
    clearTimeout(timer);
    setStatus(msg("conflict"), "conflict");
    return serverCopy().then(function (server) {
      if (!server) { stop(msg("conflict")); return "conflict"; }
      compare(server.version, server.values);
      return "conflict";
    }, function () {
      retryLater("conflict", msg("conflict"));
      return "conflict";
    });
  }

  // ``values``: the server's copy at ``version``. Every field this device changed whose text differs from
  // the server's is shown with both texts: nothing is merged behind the person's back.
  function compare(version, values) {
    var found = {};
    Object.keys(values).forEach(function (n) {
      var mine = valueOf(n);
      var theirs = values[n];
      if (!Object.prototype.hasOwnProperty.call(dirty, n)) {
        if (mine !== theirs) { setValue(n, theirs); }
      } else if (mine === theirs) {
        delete dirty[n]; delete pending[n]; markField(n, false);
      } else {
        found[n] = theirs;
      }
      serverValues[n] = theirs;
    });
    conflicts = found;
    if (!Object.keys(found).length) {
      settle(version);
      return;
    }
    conflictVersion = version;
    showConflicts();
    setStatus(msg("conflict"), "conflict");
    writeLocal();
  }

  function settle(version) {
    conflictVersion = null;
    versionInput.value = version;
    Object.keys(dirty).forEach(function (n) { pending[n] = true; });
    var panel = document.getElementById("draft-conflict");
    if (panel) { panel.remove(); }
    writeLocal();
    if (Object.keys(pending).length) { save(false); }
    else { setStatus(msg("in-sync"), "saved"); }  // every choice was the server's text
  }

  function showConflicts() {
    var panel = document.getElementById("draft-conflict");
    if (panel) { panel.remove(); }
    panel = document.createElement("section");
    panel.id = "draft-conflict";
    panel.className = "card draft-conflict";
    panel.setAttribute("role", "alert");
    var h = document.createElement("h2");
    h.textContent = msg("conflict-title");
    panel.appendChild(h);
    var p = document.createElement("p");
    p.textContent = msg("conflict-explain");
    panel.appendChild(p);
    Object.keys(conflicts).forEach(function (name) {
      var box = document.createElement("div");
      box.className = "conflict-field";
      box.setAttribute("data-field", name);
      var title = document.createElement("h3");
      title.textContent = labelOf(name);
      box.appendChild(title);
      [["server", conflicts[name]], ["device", valueOf(name)]].forEach(function (side) {
        var part = document.createElement("div");
        part.className = "conflict-" + side[0];
        var head = document.createElement("strong");
        head.textContent = msg("conflict-" + side[0]);
        var text = document.createElement("p");
        text.className = "prewrap conflict-text";
        text.textContent = shown(name, side[1]);
        var button = document.createElement("button");
        button.type = "button";
        button.className = side[0] === "server" ? "secondary" : "";
        button.setAttribute("data-keep", side[0]);
        button.textContent = msg("keep-" + side[0]);
        button.addEventListener("click", function () { choose(name, side[0]); });
        part.appendChild(head);
        part.appendChild(text);
        part.appendChild(button);
        box.appendChild(part);
      });
      panel.appendChild(box);
    });
    form.insertBefore(panel, statusEl ? statusEl.nextSibling : form.firstChild);
    panel.scrollIntoView({ block: "start" });
  }

  function choose(name, side) {
    if (side === "server") {
      setValue(name, conflicts[name]);
      delete dirty[name];
      delete pending[name];
      markField(name, false);
    } else {
      dirty[name] = true;
      pending[name] = true;
    }
    delete conflicts[name];
    var box = form.querySelector(".conflict-field[data-field='" + CSS.escape(name) + "']");
    if (box) { box.remove(); }
    writeLocal();
    if (!Object.keys(conflicts).length) { settle(conflictVersion); }
  }

  // -- typing --------------------------------------------------------------------------------------------------
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

  function changed(ev) {
    var el = ev.target;
    if (!el || !el.name || el.name === "draft_version" || el.type === "hidden" || el.name === "action") { return; }
    if (stopped || !form.contains(el)) { return; }
    dirty[el.name] = true;
    pending[el.name] = true;
    writeLocal();
    markField(el.name, true);
    if (conflictVersion !== null) { return; }
    unsavedStatus();
    clearTimeout(timer);
    timer = setTimeout(function () { save(false); }, DELAY);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  window.addEventListener("online", resume);
  window.addEventListener("offline", function () {
    if (Object.keys(dirty).length && conflictVersion === null) { setStatus(offlineText(), "offline"); }
  });

  function flushOnLeave() {
    if (Object.keys(pending).length && !isOffline()) { save(true); }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flushOnLeave(); }
  });
  window.addEventListener("pagehide", flushOnLeave);

  // -- submitting needs the server ---------------------------------------------------------------------------
  function refusedOffline() { setStatus(msg("submit-offline"), "offline"); }

  function submitRecord() {
    if (isOffline()) { refusedOffline(); return Promise.resolve(); }
    if (conflictVersion !== null) { setStatus(msg("conflict"), "conflict"); return Promise.resolve(); }
    return save(false).then(function (outcome) {
      if (outcome === "offline") { refusedOffline(); return; }
      if (stopped || outcome !== "ok") { return; }
      return window.tingke.fetch(form.getAttribute("data-submit-url"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ draft_version: parseInt(versionInput.value, 10) })
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (res.ok && body.redirect) { removeLocal(); window.location.href = body.redirect; return; }
          if (res.status === 409) { reconcile(); return; }
          var fields = body.fields || {};
          form.querySelectorAll("[data-error-for]").forEach(function (el) {
            el.textContent = fields[el.getAttribute("data-error-for")] || "";
          });
          showSummary(fields);
          setStatus(body.error || msg("unsaved"), "error");
        });
      }, refusedOffline);
    });
  }

  form.addEventListener("submit", function (ev) {
    var action = ev.submitter ? ev.submitter.getAttribute("data-action") : "save";
    ev.preventDefault();
    if (action === "submit") { submitRecord(); return; }
    if (Object.keys(pending).length) { save(false); }
  });

  // Other forms on the page (co-observers, problems, search, discard) leave the page: they need the server,
  // and the record is saved first.
  document.querySelectorAll("form[data-flush-first], form[data-confirm]").forEach(function (other) {
    other.addEventListener("submit", function (ev) {
      if (other.hasAttribute("data-confirm") && !window.confirm(other.getAttribute("data-confirm"))) {
        ev.preventDefault();
        return;
      }
      if (isOffline()) { ev.preventDefault(); setStatus(msg("leave-offline"), "offline"); return; }
      if (other.hasAttribute("data-discard")) { removeLocal(); return; }
      if (!Object.keys(pending).length) { return; }
      ev.preventDefault();
      save(false).then(function (outcome) {
        if (outcome === "offline") { setStatus(msg("leave-offline"), "offline"); return; }
        other.submit();
      });
    });
  });

  // -- on load: what the server sent, then this device's newer copy ----------------------------------------
  fieldNames(form).forEach(function (n) { serverValues[n] = valueOf(n); });
  if (store) { try { store.sweep(); } catch (e) { /* best effort */ } }
  var copy = readLocal();
  if (copy) {
    var base = copy.base;
    var version = parseInt(versionInput.value, 10);
    Object.keys(copy.fields).forEach(function (n) {
      if (!Object.prototype.hasOwnProperty.call(serverValues, n)) { return; }
      dirty[n] = true;
      setValue(n, copy.fields[n]);
      if (valueOf(n) === serverValues[n]) { setValue(n, serverValues[n]); delete dirty[n]; return; }
      markField(n, true);
      pending[n] = true;
    });
    if (!Object.keys(dirty).length) {
      removeLocal();
    } else if (base === version) {
      writeLocal();
      setStatus(msg("restored"), "restored");
      timer = setTimeout(function () { save(false); }, DELAY);
    } else {
      versionInput.value = base;  // the version these edits started from, until the person has chosen
      compare(version, Object.assign({}, serverValues));
    }
  }
})();
