"""Judging synthetic behaviour logs: fidelity, utility (TSTR) and privacy.

* **Fidelity**: Jensen-Shannon distance between real and synthetic item popularity and
  sequence-length distributions, Wasserstein distance between the lengths, and how alike
  the item-to-next-item transition counts are (cosine of the two count matrices, overlap of
  their 1,000 most frequent transitions).
* **Utility** (train on synthetic, test on real): SASRec trained on synthetic sequences only,
  and on real plus synthetic, tested on the REAL leave-one-out test targets with full ranking,
  against the same SASRec trained on the real training sequences.
* **Privacy**: the share of synthetic sequences that copy a real training sequence of the
  generator's members exactly, the share that contain a copied run of ``n >= 5`` items,
  the distance to the closest real record (Jaccard distance of item sets; compared with the
  same distance for real users the generator never saw, the natural baseline), and a
  loss-threshold membership-inference attack: a model trained on the synthetic data scores
  each real user's sequence by its mean next-item log-likelihood; AUC of telling the
  generator's members from non-members, with a bootstrap 95% interval. AUC 0.5 means the
  synthetic data reveals nothing about who was in it.

Everything takes the member users' TRAINING sequences as "real"; the held-out targets are
only used to test the TSTR models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from shopaug.data import Sequences

__all__ = [
    "copy_rates",
    "distance_to_closest",
    "fidelity",
    "membership_auc",
    "transition_matrix",
]


def _js(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors."""
    from scipy.spatial.distance import jensenshannon

    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return 1.0
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2))


def transition_matrix(seqs: Sequences, n_items: int) -> sp.csr_matrix:
    """Counts of item i followed directly by item j, over all sequences."""
    same = np.repeat(np.arange(len(seqs)), seqs.lengths)
    nxt = np.flatnonzero(same[:-1] == same[1:]) if len(same) > 1 else np.zeros(0, int)
    a, b = seqs.items[nxt], seqs.items[nxt + 1]
    return sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(n_items + 1, n_items + 1))


def fidelity(real: Sequences, syn: Sequences, n_items: int, top: int = 1000) -> dict[str, float]:
    """Distances between real and synthetic sequences (see the module doc)."""
    from scipy.stats import wasserstein_distance

    pop_r = np.bincount(real.items, minlength=n_items + 1)[1:]
    pop_s = np.bincount(syn.items, minlength=n_items + 1)[1:]
    m = int(max(real.lengths.max(initial=0), syn.lengths.max(initial=0))) + 1
    len_r = np.bincount(real.lengths, minlength=m)
    len_s = np.bincount(syn.lengths, minlength=m)
    tr, ts = transition_matrix(real, n_items), transition_matrix(syn, n_items)
    dot = float(tr.multiply(ts).sum())
    norm = float(np.sqrt(tr.multiply(tr).sum() * ts.multiply(ts).sum()))

    def top_pairs(t: sp.csr_matrix) -> set[tuple[int, int]]:
        c = t.tocoo()
        keep = np.argsort(-c.data, kind="stable")[:top]
        return set(zip(c.row[keep].tolist(), c.col[keep].tolist(), strict=True))

    tp_r, tp_s = top_pairs(tr), top_pairs(ts)
    return {
        "popularity_js": round(_js(pop_r, pop_s), 5),
        "length_js": round(_js(len_r, len_s), 5),
        "length_wasserstein": round(float(wasserstein_distance(real.lengths, syn.lengths)), 4),
        "mean_length_real": round(float(real.lengths.mean()), 3),
        "mean_length_synthetic": round(float(syn.lengths.mean()), 3),
        "items_covered_real": int((pop_r > 0).sum()),
        "items_covered_synthetic": int((pop_s > 0).sum()),
        "transition_cosine": round(dot / norm, 5) if norm else 0.0,
        f"top{top}_transition_overlap": round(len(tp_r & tp_s) / max(1, min(len(tp_r), top)), 5),
    }


def _ngrams(seqs: Sequences, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every run of ``n`` consecutive items (one row each) and the sequence it comes from."""
    row = np.repeat(np.arange(len(seqs)), seqs.lengths)
    pos = np.arange(len(seqs.items))
    start = np.flatnonzero(pos + n <= seqs.indptr[row + 1]) if len(row) else pos
    win = seqs.items[start[:, None] + np.arange(n)[None, :]]
    return np.ascontiguousarray(win), row[start]


def _row_keys(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.int64)
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()


def copy_rates(real: Sequences, syn: Sequences, n: int = 5) -> dict[str, float]:
    """Exact copies of whole real sequences, and synthetic sequences containing a run of
    ``n`` items that also occurs in a real sequence."""
    exact = int(syn.rows_in(real).sum())
    rg, _ = _ngrams(real, n)
    sg, srow = _ngrams(syn, n)
    hit = np.isin(_row_keys(sg), _row_keys(rg)) if len(sg) and len(rg) else np.zeros(0, bool)
    long_syn = int((syn.lengths >= n).sum())
    return {
        "exact_copy_rate": round(exact / max(1, int((syn.lengths > 0).sum())), 6),
        f"ngram{n}_copy_rate": round(len(np.unique(srow[hit])) / max(1, long_syn), 6),
        f"ngram{n}_share_copied": round(float(hit.mean()) if len(hit) else 0.0, 6),
        f"sequences_with_{n}_items": long_syn,
    }


def distance_to_closest(
    query: Sequences, real: Sequences, n_items: int, *, chunk: int = 512,
    exclude_self: bool = False,
) -> np.ndarray:
    """Per query sequence, the Jaccard distance of its item set to the nearest real item
    set (sparse products in chunks; ``exclude_self`` skips the same row index, for a real
    set against itself)."""
    q = query.to_csr(n_items + 1)
    r = real.to_csr(n_items + 1)
    q.data[:] = 1
    r.data[:] = 1
    qn = np.asarray(q.sum(1)).ravel()
    rn = np.asarray(r.sum(1)).ravel()
    rt = r.T.tocsr()
    out = np.ones(q.shape[0])
    for s in range(0, q.shape[0], chunk):
        inter = (q[s : s + chunk] @ rt).tocoo()
        if exclude_self:
            keep = inter.row + s != inter.col
            inter = sp.coo_matrix((inter.data[keep], (inter.row[keep], inter.col[keep])),
                                  shape=inter.shape)
        union = qn[s + inter.row] + rn[inter.col] - inter.data
        d = 1.0 - inter.data / np.maximum(union, 1)
        best = np.ones(min(chunk, q.shape[0] - s))
        np.minimum.at(best, inter.row, d)
        out[s : s + len(best)] = best
    return out


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties half)."""
    from scipy.stats import rankdata

    x = np.concatenate([pos, neg])
    r = rankdata(x)
    return float((r[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def membership_auc(
    members: np.ndarray, others: np.ndarray, *, rng: np.random.Generator,
    resamples: int = 1000,
) -> dict[str, float]:
    """AUC of the attack score separating members from non-members, with a percentile
    bootstrap 95% interval (members and non-members resampled independently)."""
    members = members[np.isfinite(members)]
    others = others[np.isfinite(others)]
    auc = _auc(members, others)
    boot = np.array([
        _auc(rng.choice(members, len(members)), rng.choice(others, len(others)))
        for _ in range(resamples)
    ])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"auc": round(auc, 4), "ci_low": round(float(lo), 4), "ci_high": round(float(hi), 4),
            "members": len(members), "non_members": len(others)}


@dataclass(frozen=True)
class SynthData:
    """A synthetic folder read against its real source: sequences in the real item ids."""

    syn: Sequences
    members: np.ndarray  # internal ids of the real users the generator was fitted on
    others: np.ndarray  # real users it never saw
    meta: dict[str, Any]



def read_synthetic(path: Any, real: Any, split: Any) -> SynthData:
    """A synthetic dataset folder (written by ``shopaug synth``) in the real data's ids."""
    import json
    from pathlib import Path

    from shopaug.data import load
    from shopaug.exceptions import ShopaugError

    path = Path(path)
    meta_file = path / "synthetic.json"
    if not meta_file.is_file():
        raise ShopaugError(f"{meta_file}: not found; expected a folder written by "
                           "'shopaug synth'")
    meta = json.loads(meta_file.read_text())
    ds = load(path)
    ext = ds.items.to_external(ds.item)
    unknown = [e for e in np.unique(ext) if e not in real.items]
    if unknown:
        raise ShopaugError(f"{path}: {len(unknown)} item ids are not in the real data "
                           f"(first: {unknown[0]!r}); was it generated from another dataset?")
    items = real.items.to_internal(ext)
    counts = np.bincount(ds.user, minlength=len(ds.users))
    syn = Sequences(np.concatenate([[0], np.cumsum(counts)]), items)
    listed = [str(u) for u in meta.get("members", [])]
    known = [u for u in listed if u in real.users]
    if len(known) != len(listed):
        raise ShopaugError(f"{meta_file}: {len(listed) - len(known)} member ids are not users "
                           "of the real data")
    members = np.sort(real.users.to_internal(np.array(known, dtype=object))) if known else \
        np.zeros(0, np.int64)
    others = np.setdiff1d(np.arange(len(real.users)), members)
    return SynthData(syn=syn, members=members, others=others, meta=meta)


def synth_report(
    syn_path: Any, real_path: Any, *, seed: int = 0, epochs: int | None = None,
    budget_minutes: float | None = None, sample: int = 2000, progress: bool = False,
    log=None, real_plus: bool = True, train_on_real: dict[str, Any] | None = None,
    train_on_members: dict[str, Any] | None = None, real_gains: np.ndarray | None = None,
    recipe: str | None = None,
) -> dict[str, Any]:
    """Fidelity, utility (TSTR) and privacy of a synthetic folder against its real data.

    The SASRec models (synthetic only, real + synthetic, real) share the ``sasrec``
    preset, ``epochs``, ``budget_minutes`` and ``recipe`` (default none; ``"text"`` fuses
    the catalogue's MiniLM text vectors, so items the synthetic data never contains are
    still scored, from their text), and early-stop on the real validation targets; all are
    tested on the real test targets. When the generator saw only some
    users (the members), one more SASRec trained on the members' real sequences gives the
    like-for-like reference (``tstr_ratio_members``): the real data the synthetic data
    stands in for. ``sample`` bounds the sequences used
    for the distance to the closest record. A benchmark comparing several synthetic sets of
    one dataset passes the first report's ``train_on_real`` back in (same seed and budget)
    and ``train_on_members`` back in (same seed, budget and members) and may skip
    ``real_plus`` to save trainings; with ``train_on_real`` it passes ``real_gains`` (the
    first report's ``_real_gains``) too, or ``drawn_share`` is None.

    ``drawn_share`` is the share of train-on-real's test NDCG@10 earned on targets the
    synthetic data contains: a model trained only on it cannot rank the other items, so
    unless it ranks the contained ones better than train-on-real, ``tstr_ratio`` stays
    below ``drawn_share``."""
    import dataclasses
    import time

    from shopaug.data import load
    from shopaug.evaluation import accuracy, leave_one_out, ndcg_per_case, rank_cases
    from shopaug.experiment import fit_model, resolve

    say = log or (lambda msg: None)
    rc = resolve(preset="sasrec", recipe=recipe)  # a wrong recipe fails before any work
    rng = np.random.default_rng(seed)
    real = load(real_path)
    split = leave_one_out(real)
    sd = read_synthetic(syn_path, real, split)
    train = split.train
    members = train.sequences.rows(sd.members) if len(sd.members) else train.sequences
    others = train.sequences.rows(sd.others)
    out: dict[str, Any] = {"synthetic": str(syn_path), "real": str(real_path),
                           "method": sd.meta.get("method"), "seed": seed,
                           "synthetic_sequences": len(sd.syn), "members": len(sd.members),
                           "non_members": len(sd.others),
                           "tstr_recipe": rc.recipe["name"] if rc.recipe else None}
    out["fidelity"] = fidelity(members, sd.syn, real.n_items)
    out["copies"] = copy_rates(members, sd.syn)
    pick = rng.permutation(len(sd.syn))[:sample]
    dcr_syn = distance_to_closest(sd.syn.rows(pick), members, real.n_items)
    dcr_out = distance_to_closest(others.rows(rng.permutation(len(others))[:sample]),
                                  members, real.n_items) if len(others) else np.zeros(0)
    out["distance_to_closest"] = {
        "synthetic_median": round(float(np.median(dcr_syn)), 4),
        "synthetic_share_zero": round(float((dcr_syn == 0).mean()), 5),
        "holdout_median": round(float(np.median(dcr_out)), 4) if len(dcr_out) else None,
        "holdout_share_zero": round(float((dcr_out == 0).mean()), 5) if len(dcr_out) else None,
    }

    if budget_minutes is not None:
        rc = dataclasses.replace(rc, train={**rc.train, "time_budget_minutes": budget_minutes})
    models = {}
    both = Sequences.concat([train.sequences, sd.syn])
    fits = [("synthetic", sd.syn)]
    if real_plus:
        fits.append(("real_plus_synthetic", both))
    if train_on_real is None:
        fits.append(("real", train.sequences))
    else:
        out["train_on_real"] = dict(train_on_real)
    if len(sd.others) and train_on_members is None:
        # the like-for-like reference: real data of the users the generator was fitted on
        fits.append(("real_members", members))
    elif len(sd.others):
        out["train_on_real_members"] = dict(train_on_members)
    cases = split.targets("test")
    for name, seqs in fits:
        t0 = time.perf_counter()
        sp_ = dataclasses.replace(split, train=dataclasses.replace(train, sequences=seqs))
        model, _ = fit_model(rc, sp_, seed=seed, epochs=epochs, progress=progress)
        models[name] = model
        ranks, _ = rank_cases(model, cases, k=10)
        res = accuracy(ranks)
        if name == "real":
            real_gains = ndcg_per_case(ranks, 10)
        out[f"train_on_{name}"] = {"NDCG@10": round(float(res["NDCG@10"]), 5),
                                   "HR@10": round(float(res["HR@10"]), 5),
                                   "seconds": round(time.perf_counter() - t0, 1)}
        say(f"train on {name}: test NDCG@10 {res['NDCG@10']:.4f}")
    ll_m = models["synthetic"].log_likelihood(members)
    ll_o = models["synthetic"].log_likelihood(others)
    out["membership_inference"] = {
        "attack": "loss threshold: mean next-item log-likelihood under the model trained on "
                  "the synthetic data; members = users the generator was fitted on",
        **(membership_auc(ll_m, ll_o, rng=rng) if len(ll_o) else {"auc": None}),
    }
    real_ndcg = out["train_on_real"]["NDCG@10"]
    out["tstr_ndcg10"] = out["train_on_synthetic"]["NDCG@10"]
    out["real_ndcg10"] = real_ndcg
    out["real_plus_synthetic_ndcg10"] = (out["train_on_real_plus_synthetic"]["NDCG@10"]
                                         if real_plus else None)
    out["tstr_ratio"] = round(out["tstr_ndcg10"] / real_ndcg, 4) if real_ndcg else None
    out["drawn_share"] = None
    if real_gains is not None and real_gains.sum() > 0:
        drawn = np.zeros(real.n_items + 1, dtype=bool)
        drawn[sd.syn.items] = True
        out["drawn_share"] = round(float(real_gains[drawn[cases.target]].sum()
                                         / real_gains.sum()), 4)
    out["_real_gains"] = real_gains
    mem = out.get("train_on_real_members", {}).get("NDCG@10")
    out["real_members_ndcg10"] = mem
    out["tstr_ratio_members"] = round(out["tstr_ndcg10"] / mem, 4) if mem else None
    out["exact_copy_rate"] = out["copies"]["exact_copy_rate"]
    out["mia_auc"] = out["membership_inference"]["auc"]
    out["_plots"] = {"pop_real": np.bincount(members.items, minlength=real.n_items + 1)[1:],
                     "pop_syn": np.bincount(sd.syn.items, minlength=real.n_items + 1)[1:],
                     "len_real": members.lengths, "len_syn": sd.syn.lengths,
                     "dcr_syn": dcr_syn, "dcr_out": dcr_out, "ll_m": ll_m, "ll_o": ll_o}
    return out


def write_synth_report(result: dict[str, Any], path: Any) -> None:
    """An HTML page with the figures and four plots (popularity, lengths, distance to the
    closest record, attack scores), written atomically."""
    import base64
    import html
    import io
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from shopaug._fs import write_file_atomic

    p = result["_plots"]
    fig, ax = plt.subplots(1, 4, figsize=(16, 3.4), dpi=90)
    for key, label in (("pop_real", "real"), ("pop_syn", "synthetic")):
        v = np.sort(p[key])[::-1]
        v = v[v > 0]
        ax[0].loglog(np.arange(1, len(v) + 1), v, label=label)
    ax[0].set(title="item popularity (rank-frequency)", xlabel="rank", ylabel="count")
    m = int(np.percentile(np.concatenate([p["len_real"], p["len_syn"]]), 99)) + 2
    bins = np.arange(0, m)
    ax[1].hist([p["len_real"], p["len_syn"]], bins=bins, density=True,
               label=["real", "synthetic"])
    ax[1].set(title="sequence length", xlabel="items")
    ax[2].hist([p["dcr_syn"], p["dcr_out"]], bins=20, density=True,
               label=["synthetic", "real holdout"])
    ax[2].set(title="distance to closest member (Jaccard)")
    ll_m, ll_o = p["ll_m"][np.isfinite(p["ll_m"])], p["ll_o"][np.isfinite(p["ll_o"])]
    ax[3].hist([ll_m, ll_o], bins=30, density=True, label=["members", "non-members"])
    ax[3].set(title=f"attack score (AUC {result['mia_auc']})", xlabel="log-likelihood")
    for a in ax:
        a.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    png = base64.b64encode(buf.getvalue()).decode()
    shown = {k: v for k, v in result.items() if not k.startswith("_")}
    page = (
        "<!doctype html><meta charset=utf-8><title>shopaug synthetic data report</title>"
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}"
        "pre{background:#f6f6f6;padding:1em}</style>"
        f"<h1>Synthetic data report: {html.escape(str(result.get('method')))}</h1>"
        f"<p>TSTR NDCG@10 {result['tstr_ndcg10']} vs train-on-real {result['real_ndcg10']}"
        f" (ratio {result['tstr_ratio']}; share of train-on-real's NDCG@10 on items the "
        f"synthetic data contains {result['drawn_share']}; {result['tstr_ratio_members']}"
        " of train-on-"
        f"real-members {result['real_members_ndcg10']}); real + synthetic "
        f"{result['real_plus_synthetic_ndcg10']}; exact copies {result['exact_copy_rate']};"
        f" membership-inference AUC {result['mia_auc']}</p>"
        f"<img alt='plots' src='data:image/png;base64,{png}' style='width:100%'>"
        f"<pre>{html.escape(json.dumps(shown, indent=2))}</pre>"
    )
    write_file_atomic(path, lambda tmp: tmp.write_text(page))
