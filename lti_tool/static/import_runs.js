// Polls an import run (session header, no cookie) and moves its progress bar; once the run has ended the
// page is loaded again, and the server shows what was stored or every row that stopped it.
(function () {
  "use strict";
  var box = document.getElementById("import-run");
  if (!box || box.getAttribute("data-done") === "yes") { return; }
  var bar = document.getElementById("run-bar");
  function paint(p) {
    bar.style.width = p + "%";
    bar.parentNode.setAttribute("aria-valuenow", p);
    document.getElementById("run-percent").textContent = p + "%";
  }
  paint(parseInt(bar.getAttribute("data-progress") || "0", 10));
  function poll() {
    window.tingke.fetch(box.getAttribute("data-status-url")).then(function (r) { return r.json(); }).then(function (d) {
      if (d.done) { window.location.replace(window.location.href); return; }
      paint(d.progress);
      document.getElementById("run-status").textContent = d.status_label || d.status;
      setTimeout(poll, 1000);
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
