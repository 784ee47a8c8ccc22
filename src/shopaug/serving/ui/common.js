// Shared helpers of the shopaug UI pages: DOM building, JSON API calls, the API key.
"use strict";

const shopaug = (() => {
  const KEY = "shopaug.apiKey";

  // el("a", {href: "/x", class: "y"}, "text", child): text is always set as text, never HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  // The API's error body is {"detail": str} or pydantic's list of {loc, msg}.
  function detail(body) {
    if (!body || body.detail === undefined) return null;
    if (typeof body.detail === "string") return body.detail;
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }

  async function api(path, { method = "GET", body, key } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["X-API-Key"] = key;
    const res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error(detail(data) || `${res.status} ${res.statusText}`);
    return data;
  }

  function getKey() {
    try { return localStorage.getItem(KEY) || ""; } catch { return ""; }
  }

  function setKey(value) {
    try {
      if (value) localStorage.setItem(KEY, value); else localStorage.removeItem(KEY);
    } catch { /* storage disabled: the key lives in the field only */ }
  }

  function status(text, kind) {
    const node = document.getElementById("status");
    if (!node) return;
    node.textContent = text || "";
    node.className = "status" + (kind ? " " + kind : "");
  }

  const pageData = JSON.parse(document.getElementById("page-data").textContent || "{}");
  const params = new URLSearchParams(location.search);

  function fmt(x, digits = 4) {
    return typeof x === "number" ? x.toFixed(digits) : "–";
  }

  return { el, api, getKey, setKey, status, pageData, params, fmt };
})();
