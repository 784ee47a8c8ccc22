// Search page: GET /search (optionally personalised by a user), and similar items per result
// (GET /items/{id}/similar).
"use strict";

(() => {
  const { el, api, status, params, pageData, fmt } = shopaug;
  const form = document.getElementById("search-form");
  const q = document.getElementById("q");
  const user = document.getElementById("user");
  const k = document.getElementById("k");
  const results = document.getElementById("results");
  const similar = document.getElementById("similar");

  q.value = params.get("q") || "";
  user.value = params.get("user_id") || "";
  user.placeholder = `personalise, e.g. ${pageData.user}`;
  k.value = params.get("k") || k.value;

  function item(it) {
    const link = el("a", {
      href: `/ui/search?similar=${encodeURIComponent(it.item_id)}`, class: "similar-link",
      onclick: (ev) => { ev.preventDefault(); showSimilar(it.item_id); },
    }, "similar items");
    return el("li", { dataset: { item: it.item_id } },
      el("span", { class: "title" }, it.title || "(untitled)"), " ",
      el("span", { class: "id" }, it.item_id), " ",
      el("span", { class: "score" }, "score " + fmt(it.score)),
      el("div", { class: "actions" }, link));
  }

  async function search() {
    const query = q.value.trim();
    if (!query) return;
    const qs = new URLSearchParams({ q: query, k: k.value });
    if (user.value.trim()) qs.set("user_id", user.value.trim());
    history.replaceState(null, "", "?" + qs);
    try {
      const r = await api("/search?" + qs);
      document.getElementById("search-meta").textContent =
        `${r.items.length} results for “${r.query}” · version ${r.version}` +
        (r.personalised ? ` · personalised for ${r.user_id}` : "");
      results.replaceChildren(...r.items.map(item));
      if (!r.items.length) results.append(el("li", {}, "No matching products."));
    } catch (err) {
      status(err.message, "error");
    }
  }

  async function showSimilar(id) {
    try {
      const r = await api(`/items/${encodeURIComponent(id)}/similar?k=${encodeURIComponent(k.value)}`);
      document.getElementById("similar-meta").textContent =
        `Similar to “${r.title || r.item_id}” (${r.method}, ${r.version})`;
      similar.replaceChildren(...r.items.map(item));
    } catch (err) {
      status(err.message, "error");
    }
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); status(""); search(); });
  if (q.value) search();
  if (params.get("similar")) showSimilar(params.get("similar"));
})();
