// Samples page: augmented training samples with their provenance (GET /samples).
"use strict";

(async () => {
  const { el, api, status, params } = shopaug;
  for (const name of ["seed", "n", "copies"]) {
    if (params.get(name)) document.getElementById(name).value = params.get(name);
  }
  const qs = new URLSearchParams({
    seed: document.getElementById("seed").value, n: document.getElementById("n").value,
    copies: document.getElementById("copies").value,
  });
  document.getElementById("json-link").href = "/samples?" + qs;

  const chip = (it, original) => el("span", {
    class: "chip" + (it.masked ? " masked" : original && !original.has(it.item_id) ? " new" : ""),
    title: it.masked ? "masked by the mask op" : `${it.title || ""} (${it.item_id})`,
  }, it.masked ? "[mask]" : it.title || it.item_id);

  status("Loading…");
  let r;
  try {
    r = await api("/samples?" + qs);
  } catch (err) {
    status(err.message, "error");
    return;
  }
  status("");
  const from = r.recipe_from === "run" ? "the run's recipe (run.json)" : "the shipped default";
  const parts = [
    el("h2", {}, "Provenance"),
    el("dl", { class: "facts" },
      el("dt", {}, "recipe"), el("dd", { id: "recipe" }, `${r.recipe} — ${r.description}`),
      el("dt", {}, "recipe from"), el("dd", {}, from),
      el("dt", {}, "mode"), el("dd", {}, `${r.mode}: ${r.mode_note}`),
      el("dt", {}, "seed"), el("dd", {}, String(r.seed)),
      el("dt", {}, "split"), el("dd", {}, r.split),
      el("dt", {}, "source"), el("dd", { id: "source" }, r.source),
      el("dt", {}, "synthetic"), el("dd", { id: "synthetic" }, r.synthetic_note)),
    r.recipe_note ? el("p", { class: "note", id: "recipe-note" }, r.recipe_note) : null,
    r.problem ? el("p", { class: "status error" }, r.problem) : null,
    el("p", { class: "meta" }, "Highlighted items were not in the user's training sequence ",
      "(substitute/insert neighbours from the training data); [mask] is the mask token. ",
      "Versions hold at most the 50 newest items."),
  ];
  document.getElementById("provenance").replaceChildren(...parts.filter(Boolean));

  const box = document.getElementById("samples");
  box.replaceChildren(...r.samples.map((s) => {
    const original = new Set(s.original.map((it) => it.item_id));
    return el("section", { class: "sample", dataset: { user: s.user_id } },
      el("h3", {}, `User ${s.user_id}`, el("span", { class: "tag" },
        ` · ${s.original.length} training items · source: ${s.source}`)),
      el("div", { class: "prov" }, "original training sequence"),
      el("div", { class: "seq original" }, s.original.map((it) => chip(it))),
      s.augmented.map((v) => el("div", { class: "version", dataset: { index: v.index } },
        el("div", { class: "prov" },
          v.ops.length ? v.ops.map((o) => el("span", { class: "op" }, o))
            : el("span", { class: "op none" }, "unchanged (p)"),
          " · recipe ", el("b", {}, r.recipe), " · seed ", el("b", {}, String(r.seed)),
          ` · version ${v.index} · source: ${s.source}`,
          v.ops.length && !v.changed ? el("span", { class: "tag" }, " · op left it unchanged")
            : null),
        el("div", { class: "seq" }, v.items.map((it) => chip(it, original))))));
  }));
  if (!r.samples.length) box.append(el("p", {}, "No training users with two or more items."));
})();
