// My calendar (templates/calendar_feed/mine.html): the copy button. Inside the LMS's iframe the clipboard
// may be refused (the frame was not allowed clipboard-write): the address is then selected so a long press
// or Ctrl+C copies it, and the page says so.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    var status = document.querySelector("[data-copy-status]");
    if (!input) { return; }
    button.hidden = false;
    function say(key) { if (status) { status.textContent = status.getAttribute(key) || ""; } }
    function byHand() {
      input.focus();
      input.select();
      input.setSelectionRange(0, input.value.length);
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      say(done ? "data-copied" : "data-copy-failed");
    }
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { say("data-copied"); }, byHand);
      } else {
        byHand();
      }
    });
    input.addEventListener("focus", function () { input.select(); });
  });
})();
