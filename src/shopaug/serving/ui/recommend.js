// Recommend page: top items for a user, feedback buttons (POST /events), explanations and
// the user's stored events (GET /users/{id}/events, needs the API key).
"use strict";

(() => {
  const { el, api, getKey, setKey, status, pageData, params, fmt } = shopaug;
  const EVENTS = ["view", "click", "cart", "purchase"];
  const form = document.getElementById("rec-form");
  const userBox = document.getElementById("user");
  const kBox = document.getElementById("k");
  const keyBox = document.getElementById("api-key");
  const list = document.getElementById("recs");
  const meta = document.getElementById("rec-meta");
  let shown = new Set(); // item ids of the previous list, to mark what is new
  let current = "";

  userBox.value = params.get("user") || pageData.user || "";
  kBox.value = params.get("k") || kBox.value;
  keyBox.value = getKey();
  keyBox.addEventListener("input", () => { setKey(keyBox.value.trim()); loadHistory(); });

  const path = (...parts) => "/" + parts.map(encodeURIComponent).join("/");

  async function load() {
    const user = userBox.value.trim();
    if (!user) return;
    const sameUser = user === current;
    current = user;
    history.replaceState(null, "", `?user=${encodeURIComponent(user)}&k=${kBox.value}`);
    try {
      const r = await api(`${path("recommend", user)}?k=${encodeURIComponent(kBox.value)}`);
      meta.replaceChildren(`model ${r.model} · version ${r.version} · source ${r.source} · `,
        el("span", { id: "history-length" }, String(r.history_length)), " history items");
      meta.dataset.historyLength = r.history_length;
      const before = sameUser ? shown : new Set();
      list.replaceChildren(...r.items.map((it) => row(user, it, before.size > 0 &&
                                                      !before.has(it.item_id))));
      shown = new Set(r.items.map((it) => it.item_id));
      if (!r.items.length) list.append(el("li", {}, "No items."));
    } catch (err) {
      status(err.message, "error");
    }
    loadHistory();
  }

  function row(user, it, isNew) {
    const out = el("div", { class: "explain", hidden: true });
    const explain = el("a", {
      href: path("explain", user, it.item_id), class: "explain-link",
      onclick: async (ev) => {
        ev.preventDefault();
        if (!out.hidden) { out.hidden = true; return; }
        try {
          const x = await api(explain.getAttribute("href"));
          out.textContent = x.text;
        } catch (err) {
          out.textContent = err.message;
        }
        out.hidden = false;
      },
    }, "explain");
    const buttons = EVENTS.map((t) => el("button", {
      type: "button", class: "fb", dataset: { type: t },
      onclick: (ev) => feedback(user, it, t, ev.target),
    }, t));
    return el("li", { dataset: { item: it.item_id } },
      el("span", { class: "title" }, it.title || "(untitled)"),
      isNew ? el("span", { class: "badge" }, "new") : null,
      " ", el("span", { class: "id" }, it.item_id), " ",
      el("span", { class: "score" }, "score " + fmt(it.score)),
      el("div", { class: "actions" }, ...buttons, explain), out);
  }

  async function feedback(user, it, type, button) {
    const key = keyBox.value.trim();
    if (!key) {
      status("Enter the API key to send feedback.", "error");
      keyBox.focus();
      return;
    }
    button.disabled = true;
    try {
      const r = await api("/events", {
        method: "POST", key, body: { user_id: user, item_id: it.item_id, type },
      });
      status(`Recorded ${type} of “${it.title || it.item_id}”; history now ` +
             `${r.history_length} items.`, "ok");
      await load();
    } catch (err) {
      status(err.message, "error");
      button.disabled = false;
    }
  }

  async function loadHistory() {
    const box = document.getElementById("history");
    const note = document.getElementById("history-note");
    const count = document.getElementById("history-count");
    const key = keyBox.value.trim();
    const user = current;
    box.replaceChildren();
    count.textContent = "";
    delete count.dataset.count;
    if (!key || !user) {
      note.textContent = "Enter the API key to see the user's stored events.";
      return;
    }
    try {
      const r = await api(`${path("users", user, "events")}?limit=10000`, { key });
      if (user !== current) return;
      const events = r.events.slice().reverse(); // newest first
      const ids = [...new Set(events.slice(0, 30).map((e) => e.item_id))];
      const qs = ids.map((i) => "ids=" + encodeURIComponent(i)).join("&");
      const titles = ids.length ? await api("/ui/titles?" + qs) : {};
      count.textContent = `(${r.events.length} events)`;
      count.dataset.count = r.events.length;
      note.textContent = events.length > 30 ? "Newest 30 shown." : "Newest first.";
      box.replaceChildren(...events.slice(0, 30).map((e) => el("li", {
        dataset: { item: e.item_id, type: e.type },
      }, el("span", { class: "badge" }, e.type), " ",
      el("span", { class: "title" }, titles[e.item_id] || e.item_id), " ",
      el("span", { class: "id" }, `${e.item_id} · ${e.source}`))));
    } catch (err) {
      note.textContent = err.message;
    }
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); status(""); load(); });
  load();
})();
