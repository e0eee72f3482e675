// Polls a report run's state row and moves the progress bar; no cookie needed (session header).
(function () {
  "use strict";
  var box = document.getElementById("run");
  if (!box) { return; }
  var bar = document.getElementById("run-bar");
  function paint(p) { bar.style.width = p + "%"; document.getElementById("run-percent").textContent = p + "%"; }
  paint(parseInt(bar.getAttribute("data-progress") || "0", 10));
  function poll() {
    window.tingke.fetch(box.getAttribute("data-status-url")).then(function (r) { return r.json(); }).then(function (d) {
      paint(d.progress);
      document.getElementById("run-status").textContent = d.status_label || d.status;
      document.getElementById("run-message").textContent = d.message || "";
      document.getElementById("run-error").textContent = d.error || "";
      if (d.status === "succeeded") {
        if (d.output_is_page) {  // the statistics: the page itself shows them once loaded again
          window.location.reload();
          return;
        }
        var dl = document.getElementById("run-download");
        if (!dl.querySelector("a")) { dl.innerHTML = d.output_html; }  // server-rendered, escaped
        dl.hidden = false;
        return;
      }
      if (d.status !== "failed") { setTimeout(poll, 1000); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  var initial = box.getAttribute("data-status");
  if (initial !== "succeeded" && initial !== "failed") { setTimeout(poll, 500); }
})();
