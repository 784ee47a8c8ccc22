"""Synthetic behaviour logs judged by utility and by attack, on any dataset of the Beauty
layout (default: bundled Amazon Beauty).

    python benchmarks/synthetic.py [--data bundled:amazon-beauty] [--budget-minutes 4] [--epochs N]
        [--epsilons 1,4,8] [--dp-params JSON] [--gen-params JSON] [--member-frac F]
        [--users N]
        [--out docs/results/synthetic.json]

For each method (``sasrec``: sequences sampled from a SASRec fitted on the members;
``markov``; ``dp-markov`` at each epsilon): ``shopaug synth`` with ``member_frac`` 0.5 (the
generator sees the TRAINING sequences of half the users; the other half are the
non-members of the membership-inference attack), then the report of
``shopaug synth report``. All SASRec models (train on synthetic, on real + synthetic, on
real) use the ``sasrec`` preset with the same time budget and seed, early-stop on the real
validation targets and are tested on the real test targets (full ranking). Train-on-real is
fitted once and shared; real + synthetic is fitted for the model-based method only (the
issue's target is about it). Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="bundled:amazon-beauty")
    ap.add_argument("--budget-minutes", type=float, default=None,
                    help="time budget of every SASRec (default 4, or the preset's own with "
                         "--epochs)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="train every SASRec exactly this many epochs: figures that do not "
                         "depend on the machine's load")
    ap.add_argument("--epsilons", default="1,4,8")
    ap.add_argument("--member-frac", type=float, default=0.5,
                    help="share of users the generators see; 1 measures utility against "
                         "train-on-real on the same data (no attack: there are no non-members)")
    ap.add_argument("--users", type=int, default=None,
                    help="synthetic users per method (default: as many as members)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recipe", default=None,
                    help="recipe of every TSTR SASRec, e.g. text (default none)")
    ap.add_argument("--methods", default="sasrec,markov,dp-markov")
    ap.add_argument("--dp-params", default="{}",
                    help='JSON options of dp-markov, e.g. \'{"transitions": 1}\'')
    ap.add_argument("--gen-params", default="{}",
                    help='JSON options per method, e.g. \'{"sasrec": {"min_users": 5}}\' '
                         '(dp-markov: --dp-params)')
    ap.add_argument("--out", type=Path, default=Path("docs/results/synthetic.json"))
    args = ap.parse_args()
    if args.budget_minutes is None and args.epochs is None:
        args.budget_minutes = 4.0

    from shopaug.augment.synthetic import synthesize
    from shopaug.evaluation.synthetic import synth_report

    dp_params = json.loads(args.dp_params)
    gen_params = {**json.loads(args.gen_params), "dp-markov": dp_params}
    runs = []
    for m in args.methods.split(","):
        if m == "dp-markov":
            runs += [(m, float(e)) for e in args.epsilons.split(",")]
        else:
            runs.append((m, None))
    rows: list[dict] = []
    real = members = gains = None
    with tempfile.TemporaryDirectory() as tmp:
        for method, eps in runs:
            name = method if eps is None else f"{method} eps={eps:g}"
            out = Path(tmp) / name.replace(" ", "_").replace("=", "")
            t0 = time.perf_counter()
            summary = synthesize(args.data, method, out=out, seed=args.seed, epsilon=eps,
                                 member_frac=args.member_frac, users=args.users,
                                 params=gen_params.get(method))
            gen_s = time.perf_counter() - t0
            rep = synth_report(out, args.data, seed=args.seed, epochs=args.epochs,
                               budget_minutes=args.budget_minutes,
                               real_plus=method == "sasrec", train_on_real=real,
                               train_on_members=members, real_gains=gains,
                               recipe=args.recipe,
                               log=lambda msg: print(" ", msg, flush=True))
            real = rep["train_on_real"]
            members = rep.get("train_on_real_members")
            gains = rep.pop("_real_gains")
            rep.pop("_plots")
            row = {"method": name, "generate_seconds": round(gen_s, 1), "summary": summary,
                   **rep}
            rows.append(row)
            print(f"{name}: TSTR {rep['tstr_ndcg10']} (ratio {rep['tstr_ratio']}, drawn share "
                  f"{rep['drawn_share']}, of members "
                  f"{rep['tstr_ratio_members']}), real+syn "
                  f"{rep['real_plus_synthetic_ndcg10']}, exact copies "
                  f"{rep['exact_copy_rate']}, MIA AUC {rep['mia_auc']}", flush=True)
    result = {"benchmark": "synthetic", "data": args.data, "seed": args.seed,
              "dp_params": dp_params, "gen_params": gen_params,
              "budget_minutes": args.budget_minutes, "epochs": args.epochs,
              "member_frac": args.member_frac, "users": args.users, "recipe": args.recipe,
              "date": time.strftime("%Y-%m-%d"),
              "machine": {"cpus": __import__("os").cpu_count(),
                          "python": platform.python_version()},
              "train_on_real": real, "train_on_real_members": members, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    head = (f"{'method':18s} {'TSTR':>7s} {'ratio':>6s} {'drawn':>6s} {'of mem':>6s} "
            f"{'real+syn':>8s} "
            f"{'copy':>7s} "
            f"{'5-run':>7s} {'DCR med':>7s} {'MIA AUC [95% CI]':>22s} {'pop JS':>7s}")
    print(f"train on real: NDCG@10 {real['NDCG@10']}; on real members: "
          f"{(members or {}).get('NDCG@10')}\n{head}")
    for r in rows:
        mi = r["membership_inference"]
        attack = (f"{mi['auc']:.3f} [{mi['ci_low']:.3f}, {mi['ci_high']:.3f}]"
                  if mi["auc"] is not None else "- (no non-members)")
        print(f"{r['method']:18s} {r['tstr_ndcg10']:7.4f} {r['tstr_ratio']:6.3f} "
              f"{float('nan') if r['drawn_share'] is None else r['drawn_share']:6.3f} "
              f"{r['tstr_ratio_members'] or float('nan'):6.3f} "
              f"{r['real_plus_synthetic_ndcg10'] or float('nan'):8.4f} "
              f"{r['exact_copy_rate']:7.4f} {r['copies']['ngram5_copy_rate']:7.4f} "
              f"{r['distance_to_closest']['synthetic_median']:7.3f} "
              f"{attack:>22s} "
              f"{r['fidelity']['popularity_js']:7.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
