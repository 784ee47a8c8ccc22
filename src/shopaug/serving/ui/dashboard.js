// Dashboard: fills the service card from GET /health.
"use strict";

(async () => {
  const { el, api } = shopaug;
  const box = document.getElementById("health");
  try {
    const h = await api("/health");
    const rows = [
      ["status", h.status], ["model", h.model], ["version", h.version],
      ["events (API)", h.events.toLocaleString()], ["users", h.users.toLocaleString()],
      ["items", h.items.toLocaleString()], ["search", h.search ? "yes" : "no"],
      ["ANN retrieval", h.ann ? "yes" : "no"], ["store", h.store],
    ];
    box.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k),
      el("dd", { id: "health-" + k.split(" ")[0] }, v)]));
  } catch (err) {
    box.replaceChildren(el("dt", {}, "status"), el("dd", { class: "status error" }, err.message));
  }
})();
