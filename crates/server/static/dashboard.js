// Live updates for the staff dashboard (no inline script: the CSP allows only this file).
// A page with a live region (`data-live` = its event stream) gets the region's fresh HTML,
// rendered and escaped by the server, whenever what it shows changes. The stream never
// refreshes the session's idle clock, so an unattended dashboard still signs itself out.
(function () {
  "use strict";
  var region = document.querySelector("[data-live]");
  if (!region || !window.EventSource) {
    return;
  }
  var status = document.getElementById("live-status");
  var source = new EventSource(region.getAttribute("data-live"));
  source.addEventListener("changed", function (e) {
    region.innerHTML = e.data;
    if (status) {
      status.textContent = "Updated at " + new Date().toLocaleTimeString();
    }
  });
  function stop(message) {
    source.close();
    if (status) {
      status.textContent = message;
    }
  }
  source.addEventListener("signed-out", function () {
    stop("You have been signed out. Reload the page to sign in again.");
  });
  source.addEventListener("gone", function () {
    stop("This conversation is no longer available.");
  });
})();
