// frontdesk web chat page. Our own code only (strict CSP, no inline script). Every message
// is shown with textContent, so patient and reply text is never parsed as HTML.
"use strict";
(function () {
  const root = document.getElementById("chat");
  if (!root) return;
  const slug = root.dataset.slug;
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const button = form.querySelector("button");
  const storeKey = "frontdesk.webchat." + slug;
  const api = "/v1/webchat/" + encodeURIComponent(slug);

  function show(who, text) {
    const li = document.createElement("li");
    li.className = "msg " + who;
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "patient" ? "You" : "Receptionist";
    const body = document.createElement("p");
    body.textContent = text;
    li.append(label, body);
    log.append(li);
    li.scrollIntoView({ block: "end" });
  }

  async function session() {
    const saved = sessionStorage.getItem(storeKey);
    if (saved) return saved;
    const r = await fetch(api + "/sessions", { method: "POST" });
    if (!r.ok) throw new Error("could not start the chat (" + r.status + ")");
    const data = await r.json();
    sessionStorage.setItem(storeKey, data.token);
    return data.token;
  }

  async function send(text) {
    let token = await session();
    let r = await fetch(api + "/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
      body: JSON.stringify({ text: text }),
    });
    if (r.status === 401) {
      sessionStorage.removeItem(storeKey);
      token = await session();
      r = await fetch(api + "/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
        body: JSON.stringify({ text: text }),
      });
    }
    const data = await r.json();
    if (!r.ok) throw new Error(data && data.error ? data.error.message : "request failed");
    return data.replies;
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    show("patient", text);
    input.value = "";
    button.disabled = true;
    status.textContent = "Sending…";
    try {
      const replies = await send(text);
      replies.forEach(function (r) { show("agent", r.text); });
      status.textContent = "";
    } catch (e) {
      status.textContent = "Sorry, that did not go through: " + e.message;
    } finally {
      button.disabled = false;
      input.focus();
    }
  });

  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
})();
