// frontdesk website widget loader. A clinic adds one line to its own site:
//   <script src="https://FRONTDESK/widget.js" data-clinic="SLUG" defer></script>
// It adds a "Chat with us" button and, when opened, our chat page in an iframe served from
// frontdesk's own origin. Nothing else is fetched (no third-party assets), no inline script or
// style attribute is written (positions are set through the CSSOM, which a strict
// `style-src` allows), and every text the clinic's page shows is set with textContent.
// The host page's CSP needs only: script-src FRONTDESK; frame-src FRONTDESK.
"use strict";
(function () {
  const me = document.currentScript;
  if (!me || !me.dataset.clinic || document.getElementById("frontdesk-launcher")) return;
  const slug = me.dataset.clinic;
  const origin = new URL(me.src, document.baseURI).origin;
  const label = me.dataset.label || "Chat with us";
  const phone = window.matchMedia("(max-width: 480px)");

  const launcher = document.createElement("button");
  launcher.id = "frontdesk-launcher";
  launcher.type = "button";
  launcher.textContent = label;
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "frontdesk-frame");
  launcher.setAttribute("aria-haspopup", "dialog");
  const b = launcher.style;
  b.position = "fixed";
  b.right = "16px";
  b.bottom = "16px";
  b.zIndex = "2147483000";
  b.padding = "12px 18px";
  b.minHeight = "44px";
  b.border = "2px solid #0b5cad";
  b.borderRadius = "24px";
  b.background = "#0b5cad";
  b.color = "#ffffff";
  b.font = "600 16px/1.2 system-ui, sans-serif";
  b.cursor = "pointer";
  b.boxShadow = "0 2px 8px rgba(0,0,0,.3)";

  const frame = document.createElement("iframe");
  frame.id = "frontdesk-frame";
  frame.title = "Chat with the clinic's receptionist";
  frame.hidden = true;
  // The frame talks only to frontdesk; it needs scripts, forms and its own storage. (Chrome
  // warns about allow-scripts with allow-same-origin; that escape needs a frame of the host
  // page's own origin, and this one is always frontdesk's. The sandbox still stops the frame
  // from navigating the clinic's page or opening pop-ups.)
  frame.setAttribute("sandbox", "allow-scripts allow-forms allow-same-origin");
  frame.referrerPolicy = "no-referrer";
  const f = frame.style;
  f.position = "fixed";
  f.zIndex = "2147483001";
  f.border = "1px solid #8a8f98";
  f.background = "#ffffff";
  f.boxShadow = "0 4px 24px rgba(0,0,0,.35)";

  function place() {
    if (phone.matches) {
      f.left = "0";
      f.right = "0";
      f.top = "0";
      f.bottom = "0";
      f.width = "100%";
      f.height = "100%";
      f.borderRadius = "0";
    } else {
      f.left = "auto";
      f.top = "auto";
      f.right = "16px";
      f.bottom = "80px";
      f.width = "380px";
      f.height = "min(600px, calc(100vh - 100px))";
      f.borderRadius = "12px";
    }
  }
  place();
  phone.addEventListener("change", place);

  let loaded = false;
  // Asks our page in the frame to focus its message box (only once it is our page: before
  // that the frame holds a blank document of another origin).
  function focusChat() {
    if (loaded && frame.contentWindow) frame.contentWindow.postMessage({ frontdesk: "focus" }, origin);
  }

  function open() {
    if (!frame.src) {
      frame.addEventListener("load", function () { loaded = true; focusChat(); }, { once: true });
      frame.src = origin + "/widget/" + encodeURIComponent(slug);
    }
    frame.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    if (phone.matches) launcher.hidden = true;
    frame.focus();
    focusChat();
  }

  function close() {
    frame.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (frame.hidden) open(); else close();
  });
  // Only our own frame may ask to be closed.
  window.addEventListener("message", function (ev) {
    if (ev.origin !== origin || ev.source !== frame.contentWindow) return;
    if (ev.data && ev.data.frontdesk === "close") close();
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && !frame.hidden) close();
  });

  document.body.append(launcher, frame);
})();
