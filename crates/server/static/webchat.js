// frontdesk web chat: the /chat page and the website widget's frame. Our own code only
// (strict CSP, no inline script). Every message is shown with textContent, so patient and
// reply text is never parsed as HTML. Replies arrive as server-sent events; the session token
// is kept in sessionStorage, so a reload resumes the conversation but closing the tab (say on
// a shared computer) leaves nothing behind.
"use strict";
(function () {
  const root = document.getElementById("chat");
  if (!root) return;
  const slug = root.dataset.slug;
  const embedded = root.dataset.embedded === "1";
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const button = form.querySelector("button[type=submit]");
  const storeKey = "frontdesk.webchat." + slug;
  const api = "/v1/webchat/" + encodeURIComponent(slug);
  const names = { patient: "You", agent: "Receptionist", staff: "Clinic team" };

  function show(who, text) {
    const li = document.createElement("li");
    li.className = "msg " + who;
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = names[who] || "Receptionist";
    const body = document.createElement("p");
    body.textContent = text;
    li.append(label, body);
    log.append(li);
    li.scrollIntoView({ block: "end" });
  }

  function saved() {
    try { return sessionStorage.getItem(storeKey); } catch (e) { return null; }
  }
  function remember(token) {
    try {
      if (token) sessionStorage.setItem(storeKey, token); else sessionStorage.removeItem(storeKey);
    } catch (e) { /* storage blocked: the chat still works, without resuming */ }
  }

  let token = saved();
  async function session() {
    if (token) return token;
    const r = await fetch(api + "/sessions", { method: "POST" });
    if (!r.ok) throw new Error("could not start the chat (" + r.status + ")");
    const data = await r.json();
    token = data.token;
    remember(token);
    return token;
  }

  // Staff replies (from someone who took the conversation over) reach the chat only through
  // the history, so it is asked again every few seconds while the page is visible; each
  // staff message is shown once.
  const seenStaff = new Set();
  async function history() {
    const r = await fetch(api + "/messages", { headers: { Authorization: "Bearer " + token } });
    if (r.status === 401) { token = null; remember(null); return null; }
    if (!r.ok) return null;
    return (await r.json()).messages;
  }

  // Shows the conversation so far when a saved session is still valid.
  async function resume() {
    if (!token) return;
    try {
      const messages = await history();
      if (!messages) return;
      messages.forEach(function (m) {
        if (m.from === "staff") seenStaff.add(m.id);
        show(m.from, m.text);
      });
    } catch (e) { /* offline: start empty, the next message retries */ }
  }

  async function pollStaff() {
    if (!token || document.visibilityState !== "visible") return;
    try {
      const messages = await history();
      if (!messages) return;
      messages.forEach(function (m) {
        if (m.from === "staff" && !seenStaff.has(m.id)) {
          seenStaff.add(m.id);
          show("staff", m.text);
        }
      });
    } catch (e) { /* offline: the next poll retries */ }
  }

  // Reads a text/event-stream body; calls onEvent(name, data) per event.
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        block.split("\n").forEach(function (line) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (data.length) onEvent(name, data.join("\n"));
      }
    }
  }

  function post(text) {
    return fetch(api + "/messages", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "text/event-stream",
        Authorization: "Bearer " + token,
      },
      body: JSON.stringify({ text: text }),
    });
  }

  async function send(text) {
    await session();
    let r = await post(text);
    if (r.status === 401) {
      token = null;
      remember(null);
      await session();
      r = await post(text);
    }
    const type = r.headers.get("Content-Type") || "";
    if (!r.ok || !type.startsWith("text/event-stream")) {
      const data = await r.json().catch(function () { return null; });
      throw new Error(data && data.error ? data.error.message : "request failed");
    }
    let failure = null;
    await readEvents(r, function (name, data) {
      const v = JSON.parse(data);
      if (name === "received") status.textContent = "The receptionist is replying…";
      else if (name === "reply") show("agent", v.text);
      else if (name === "error") failure = v.error ? v.error.message : "request failed";
    });
    if (failure) throw new Error(failure);
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
      await send(text);
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

  if (embedded) {
    // The loader on the clinic's page hides the frame and gives focus back to its button.
    const closeChat = function () { window.parent.postMessage({ frontdesk: "close" }, "*"); };
    const close = document.getElementById("close");
    if (close) close.addEventListener("click", closeChat);
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") closeChat();
    });
    window.addEventListener("message", function (ev) {
      if (ev.source === window.parent && ev.data && ev.data.frontdesk === "focus") input.focus();
    });
  }

  resume().then(function () { setInterval(pollStaff, 4000); });
})();
