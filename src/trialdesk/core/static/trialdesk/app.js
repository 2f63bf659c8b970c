/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";
  // After a form is re-rendered with errors, move focus to the error summary so it is announced.
  function focusErrors(root) {
    var summary = (root || document).querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () { focusErrors(document); });
  document.addEventListener("htmx:afterSwap", function (event) { focusErrors(event.target); });
})();
