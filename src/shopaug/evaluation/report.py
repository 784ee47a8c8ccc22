"""A self-contained HTML report of one run, and a plain-text table for the terminal.

The input is the ``results`` dict stored in ``runs/<name>/results.json``. Any part of it may be
missing (a model without training history, data without item attributes, ...): the report
shows "–" or leaves a plot out instead of failing. matplotlib is imported only when plotting,
so importing this module stays cheap.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopaug._fs import write_file_atomic
from shopaug.evaluation._protocol import HISTORY_CONVENTIONS, SHORT_MAX, TAIL_MAX

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["METRICS", "format_table", "write_report"]

#: Columns of the main HTML table, all "higher is better".
METRICS: tuple[str, ...] = (
    "HR@5",
    "HR@10",
    "HR@20",
    "NDCG@5",
    "NDCG@10",
    "NDCG@20",
    "MRR@10",
    "coverage@10",
    "diversity@10",
    "novelty@10",
)
#: Columns of the terminal table: fewer, so it fits in about 100 characters.
BRIEF: tuple[str, ...] = (
    "HR@10",
    "HR@20",
    "NDCG@10",
    "NDCG@20",
    "MRR@10",
    "coverage@10",
    "diversity@10",
    "novelty@10",
)
NOTES: dict[str, str] = {
    "exclude": "items already in the user's history are removed from the ranking",
    "zero": "history items stay in the ranking with their score set to 0, as in ICLRec / S3-Rec",
    "keep": "history items are ranked like any other item, as RecBole does",
}
MISSING = "–"
SIZE = (6.0, 3.2)  # inches; with DPI keeps each embedded PNG around 20-40 kB
DPI = 100

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; max-width: 62rem; margin: 2rem auto;
  padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; } .date { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0 1.2rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #999; }
.text { font-family: ui-monospace, monospace; font-size: 12px; }
.note { background: #f6f6f6; border-left: 3px solid #999; padding: .5rem 1rem; }
figure { margin: 1rem 0; } figcaption { color: #555; font-size: 13px; }
.tag { color: #666; font-size: 12px; } footer { color: #777; font-size: 12px; margin-top: 2rem; }
"""


def write_report(results: Mapping[str, Any], path: str | Path) -> Path:
    """Write a single self-contained HTML report of ``results`` to ``path``.

    Inputs:
        results: the run summary as stored in ``runs/<name>/results.json``.
        path: the HTML file to create or replace; its folder is created if needed.

    Relations:
        Every string taken from ``results`` is HTML-escaped; plots are PNGs embedded as
        base64 data URIs, so the file opens offline and can be mailed as is. The file is
        written to a temporary sibling and moved into place, so a reader never sees half a
        report.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    text = render(results)
    return write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def format_table(results: Mapping[str, Any], history: str = "exclude") -> str:
    """Return an aligned plain-text table of the main test metrics per model.

    Metrics have 4 decimals, missing ones show "-"; ``history`` picks the convention.

    Example:
        >>> print(format_table(results))  # doctest: +SKIP
        test metrics, full ranking, history=exclude
        model       HR@10   HR@20  NDCG@10 ...
    """
    head = ["model", *BRIEF, "fit_s"]
    rows = []
    for name, model in _models(results).items():
        scores = _scores(model, history)
        cells = [_fmt(_num(scores.get(k)), "-") for k in BRIEF]
        rows.append([str(name), *cells, _fmt(_num(model.get("fit_seconds")), "-", ".1f")])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    out = [f"test metrics, full ranking, history={history}", line(head)]
    out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in rows]
    return "\n".join(out)


def render(results: Mapping[str, Any]) -> str:
    """Return the report as an HTML string (what :func:`write_report` writes)."""
    name = _e(results.get("name", "run"))
    created = results.get("created")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>shopaug report: {name}</title><style>{CSS}</style></head><body>",
        f"<h1>shopaug report: {name}</h1>",
        f'<p class="date">{_e(created) if created else "date unknown"}</p>',
        _protocol(results),
        _stats(results),
        "<h2>Results</h2>",
        _main_table(results),
        _conventions_table(results),
        "<h2>Plots</h2>",
        *_plots(results),
        *_ablation(results),
        _configs(results),
        _footer(results),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


# --- reading results --------------------------------------------------------------------------


def _dict(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def _models(results: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(k): _dict(v) for k, v in _dict(results.get("models")).items()}


def _scores(model: Mapping[str, Any], history: str = "exclude") -> Mapping[str, Any]:
    return _dict(_dict(model.get("test")).get(history))


def _slice(model: Mapping[str, Any], which: str) -> Mapping[str, Any]:
    return _dict(_dict(_scores(model).get("slices")).get(which))


def _num(x: Any) -> float | None:
    """A finite number, or None for anything missing, non-numeric or NaN."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def _conventions(results: Mapping[str, Any]) -> list[str]:
    listed = _dict(results.get("protocol")).get("history_conventions")
    if isinstance(listed, list) and listed:
        return [str(c) for c in listed]
    return list(HISTORY_CONVENTIONS)


# --- HTML pieces --------------------------------------------------------------------------------


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(x: float | None, missing: str = MISSING, spec: str = ".4f") -> str:
    return missing if x is None else format(x, spec)


def _stat(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return _e(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.4f}"
    if isinstance(x, str):
        return _e(x)
    return _e(json.dumps(x, default=str))


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], head2: str = "") -> str:
    """``head`` and cells are trusted HTML: callers escape what comes from ``results``."""
    ths = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead>{head2}<tr>{ths}</tr></thead><tbody>{body}</tbody></table>"


def _bold_best(columns: list[list[float | None]]) -> list[list[str]]:
    """Format each column to 4 decimals with its best (highest) shown value in bold.

    Best is judged on the rounded value so equal-looking ties are all bold; a column with a
    single value has nothing to compare against and stays plain.
    """
    out = []
    for col in columns:
        shown = [None if v is None else round(v, 4) for v in col]
        present = [v for v in shown if v is not None]
        best = max(present) if len(present) > 1 else None
        out.append([f"<b>{_fmt(v)}</b>" if v is not None and v == best else _fmt(v) for v in shown])
    return out


def _protocol(results: Mapping[str, Any]) -> str:
    proto = _dict(results.get("protocol"))
    split = _e(proto.get("split", "unknown"))
    ranking = proto.get("ranking", "full")
    rank_note = (
        "<b>FULL ranking</b>: each target is ranked against the whole item catalogue, "
        "not a sampled candidate set"
        if ranking == "full"
        else f"ranking: <b>{_e(ranking)}</b>"
    )
    max_len = ""
    if "max_len" in proto:
        max_len = f"; sequences truncated to the last {_e(proto['max_len'])} items"
    items = "".join(
        f"<li><b>{_e(c)}</b>: {NOTES.get(c, 'see the run configuration')}</li>"
        for c in _conventions(results)
    )
    return (
        '<div class="note"><p>Split: <b>' + split + "</b>; " + rank_note + max_len + ".</p>"
        "<p>History conventions (how items the user already interacted with are treated):</p>"
        f"<ul>{items}</ul>"
        "<p>The main table and plots 1, 3, 4 and 5 use <b>exclude</b>; the convention table "
        "and plot 2 compare all conventions.</p></div>"
    )


def _stats(results: Mapping[str, Any]) -> str:
    data = _dict(results.get("data"))
    rows = [["source", _e(data["source"])]] if "source" in data else []
    rows += [[_e(k), _stat(v)] for k, v in _dict(data.get("stats")).items()]
    if not rows:
        return ""
    return "<h2>Dataset</h2>" + _table(["statistic", "value"], rows)


def _model_cell(name: str, results: Mapping[str, Any]) -> str:
    tag = ' <span class="tag">(primary)</span>' if name == results.get("primary") else ""
    return _e(name) + tag


def _main_table(results: Mapping[str, Any]) -> str:
    models = _models(results)
    if not models:
        return "<p>No models in this run.</p>"
    cols = _bold_best([[_num(_scores(m).get(k)) for m in models.values()] for k in METRICS])
    rows = []
    for i, (name, m) in enumerate(models.items()):
        fit = _fmt(_num(m.get("fit_seconds")), spec=",.1f")
        rss = _fmt(_num(m.get("peak_rss_mb")), spec=",.0f")
        rows.append([_model_cell(name, results), *(c[i] for c in cols), fit, rss])
    head = ["model", *METRICS, "fit (s)", "peak RSS (MB)"]
    caption = "<p>Test split, history convention <b>exclude</b>; best value per column in bold.</p>"
    return caption + _table(head, rows)


def _conventions_table(results: Mapping[str, Any]) -> str:
    models = _models(results)
    convs = _conventions(results)
    if not models:
        return ""
    keys = [(k, c) for k in ("NDCG@10", "HR@10") for c in convs]
    cols = _bold_best([[_num(_scores(m, c).get(k)) for m in models.values()] for k, c in keys])
    rows = [[_model_cell(name, results), *(c[i] for c in cols)] for i, name in enumerate(models)]
    span = len(convs)
    head2 = f'<tr><th></th><th colspan="{span}">NDCG@10</th><th colspan="{span}">HR@10</th></tr>'
    return "<h3>NDCG@10 and HR@10 under each history convention</h3>" + _table(
        ["model", *(_e(c) for _, c in keys)], rows, head2
    )


def _configs(results: Mapping[str, Any]) -> str:
    models = _models(results)
    if not models:
        return ""
    rows = []
    for name, m in models.items():
        config = json.dumps(m.get("config", {}), sort_keys=True, default=str)
        valid = ", ".join(
            f"{_e(k)} {_stat(v) if k == 'n_cases' else _fmt(_num(v))}"
            for k, v in _dict(m.get("valid")).items()
            if _num(v) is not None  # drop the split and convention labels
        )
        history = m.get("history")
        epochs = str(len(history)) if isinstance(history, list) and history else MISSING
        cells = [_e(name), f'<span class="text">{_e(config)}</span>', epochs, valid or MISSING]
        rows.append(cells)
    return "<h2>Model configurations</h2>" + _table(
        ["model", "config", "epochs", "validation"], rows
    )


def _footer(results: Mapping[str, Any]) -> str:
    machine = ", ".join(f"{_e(k)} {_e(v)}" for k, v in _dict(results.get("machine")).items())
    return f"<footer>Machine: {machine or 'unknown'}. Generated by shopaug.</footer>"


# --- plots ------------------------------------------------------------------------------------


def _plots(results: Mapping[str, Any]) -> list[str]:
    models = _models(results)
    if not models:
        return ["<p>No models to plot.</p>"]
    specs: list[tuple[str, Callable[[Figure], bool], int]] = [
        ("1. HR@10 and NDCG@10 per model (test, exclude).", lambda f: _plot_accuracy(f, models), 1),
        (
            "2. NDCG@10 per model under each history convention (test).",
            lambda f: _plot_conventions(f, models, _conventions(results)),
            1,
        ),
        (
            "3. Training curves: loss and validation NDCG@10 per epoch.",
            lambda f: _plot_history(f, models),
            2,
        ),
        (
            "4. Beyond accuracy: coverage@10, diversity@10 and novelty@10 (test, exclude).",
            lambda f: _plot_beyond(f, models),
            3,
        ),
        (
            "5. Tail vs head targets: NDCG@10 and HR@10 per model (test, exclude); "
            "n = number of test cases in each slice.",
            lambda f: _plot_slices(f, models),
            2,
        ),
    ]
    out = []
    for caption, draw, panels in specs:
        png = _render(draw, panels)
        cap = _e(caption)
        if png is None:
            out.append(f"<p>{cap} <i>No data in this run.</i></p>")
            continue
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        out.append(f'<figure><img src="{uri}" alt="{cap}"><figcaption>{cap}</figcaption></figure>')
    return out


def _figure(draw: Callable[[Figure], bool], panels: int, caption: str) -> str:
    png = _render(draw, panels)
    cap = _e(caption)
    if png is None:
        return f"<p>{cap} <i>No data in this run.</i></p>"
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return f'<figure><img src="{uri}" alt="{cap}"><figcaption>{cap}</figcaption></figure>'


def _ablation(results: Mapping[str, Any]) -> list[str]:
    """The augmentation ablation section: per-arm table and gains with their intervals."""
    abl = _dict(results.get("ablation"))
    rows = list(abl.get("table") or [])
    if not rows:
        return []
    head = ["arm", "NDCG@10", "HR@10", "tail NDCG@10", "short NDCG@10", "gain vs none",
            "95% CI", "p", "s/epoch"]
    body = []
    for r in rows:
        vs = _dict(r.get("vs_none"))
        nd, hr = _dict(r.get("NDCG@10")), _dict(r.get("HR@10"))
        body.append([
            _e(r.get("arm")),
            f"{_fmt(_num(nd.get('mean')))} ± {_fmt(_num(nd.get('std')))}",
            f"{_fmt(_num(hr.get('mean')))} ± {_fmt(_num(hr.get('std')))}",
            _fmt(_num(r.get("tail NDCG@10"))),
            _fmt(_num(r.get("short NDCG@10"))),
            f"{vs['gain']:+.1%}" if vs else "",
            f"[{vs['ci_low']:+.1%}, {vs['ci_high']:+.1%}]" if vs else "",
            f"{vs['p']:.3f}" if vs else "",
            _fmt(_num(r.get("seconds_per_epoch")), spec=".1f"),
        ])
    intro = (
        f"<p>{_e(abl.get('model'))} trained without augmentation (<b>none</b>) and with each "
        f"recipe, {_e(abl.get('seeds'))} seeds each; test split, full ranking, history "
        "excluded. Gains are paired over users (per-user NDCG@10 averaged over seeds), "
        "with a 95% bootstrap interval; p is the share of resamples without a gain. "
        f"Tail: targets with at most {TAIL_MAX} training interactions; short: users with at "
        f"most {SHORT_MAX} history items.</p>"
    )

    def draw(fig: Figure) -> bool:
        arms = [r for r in rows if r.get("vs_none")]
        if not arms:
            return False
        ax = fig.axes[0]
        keys = (("vs_none", "all users"), ("vs_none_tail", "tail targets"),
                ("vs_none_short", "short histories"))
        width = 0.8 / len(keys)
        for i, (key, label) in enumerate(keys):
            xs = [g + (i - 1) * width for g in range(len(arms))]
            vals = [_dict(r.get(key)) for r in arms]
            ys = [100 * v.get("gain", 0.0) for v in vals]
            err = [[100 * (v.get("gain", 0) - v.get("ci_low", 0)) for v in vals],
                   [100 * (v.get("ci_high", 0) - v.get("gain", 0)) for v in vals]]
            ax.bar(xs, ys, width, yerr=err, capsize=2, label=label)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(range(len(arms)), [_tex(_short(str(r["arm"]))) for r in arms])
        ax.set_ylabel("NDCG@10 gain over none (%)")
        ax.legend(frameon=False)
        return True

    return [
        "<h2>Augmentation ablation</h2>",
        intro,
        _table(head, body),
        _figure(draw, 1, "6. Relative NDCG@10 gain of each recipe over no augmentation, "
                "with 95% paired bootstrap intervals (test, exclude)."),
    ]


def _render(draw: Callable[[Figure], bool], panels: int) -> bytes | None:
    """Run ``draw`` on a fresh figure; PNG bytes, or None when it had nothing to draw."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global figure registry or GUI backend

    with matplotlib.rc_context({"font.size": 8, "axes.titlesize": 9, "legend.fontsize": 7}):
        fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        fig.subplots(1, panels)
        if not draw(fig):
            return None
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _tex(s: str) -> str:
    # A name with two "$" would be parsed as mathtext and may fail to render.
    return s.replace("$", r"\$")


def _short(s: str, n: int = 18) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _bars(ax: Axes, groups: Sequence[str], series: Mapping[str, Sequence[float | None]]) -> None:
    """Grouped bars: one group per entry of ``groups``, one bar per series; missing is "n/a"."""
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (label, values) in enumerate(series.items()):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        ys = [math.nan if v is None else v for v in values]
        bars = ax.bar(xs, ys, width, label=_tex(label))
        ax.bar_label(bars, ["" if v is None else f"{v:.3g}" for v in values], fontsize=6)
        for x, v in zip(xs, values, strict=True):
            if v is None:
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=6)
    # Rotate names once they no longer fit side by side in this panel's share of the width.
    labels = [_short(g) for g in groups]
    crowded = sum(len(g) + 2 for g in labels) > 80 / len(ax.figure.axes)
    ax.set_xticks(
        range(len(groups)),
        [_tex(g) for g in labels],
        rotation=30 if crowded else 0,
        ha="right" if crowded else "center",
        rotation_mode="anchor",
    )
    ax.margins(y=0.15)
    if len(series) > 1:
        ax.legend(frameon=False)


def _plot_accuracy(fig: Figure, models: Mapping[str, Mapping[str, Any]]) -> bool:
    series = {k: [_num(_scores(m).get(k)) for m in models.values()] for k in ("HR@10", "NDCG@10")}
    if all(v is None for vs in series.values() for v in vs):
        return False
    ax = fig.axes[0]
    _bars(ax, list(models), series)
    ax.set_title("HR@10 and NDCG@10")
    return True


def _plot_conventions(
    fig: Figure, models: Mapping[str, Mapping[str, Any]], convs: Sequence[str]
) -> bool:
    series = {c: [_num(_scores(m, c).get("NDCG@10")) for m in models.values()] for c in convs}
    if all(v is None for vs in series.values() for v in vs):
        return False
    ax = fig.axes[0]
    _bars(ax, list(models), series)
    ax.set_title("NDCG@10 by history convention")
    return True


def _curve(history: list[Any], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(history):
        y = _num(_dict(row).get(key))
        if y is not None:
            xs.append(_num(_dict(row).get("epoch")) or float(i + 1))
            ys.append(y)
    return xs, ys


def _plot_history(fig: Figure, models: Mapping[str, Mapping[str, Any]]) -> bool:
    loss_ax, valid_ax = fig.axes
    drawn = False
    for name, m in models.items():
        history = m.get("history")
        if not isinstance(history, list) or not history:
            continue
        # an ensemble's members each have their own curve
        parts: dict[Any, list[Any]] = {}
        for row in history:
            parts.setdefault(_dict(row).get("member"), []).append(row)
        for member, rows in parts.items():
            label = name if member is None else f"{name} member {member}"
            for ax, key in ((loss_ax, "loss"), (valid_ax, "valid")):
                xs, ys = _curve(rows, key)
                if xs:
                    ax.plot(xs, ys, marker="o", markersize=3, label=_tex(label))
                    drawn = True
    if not drawn:
        return False
    from matplotlib.ticker import MaxNLocator

    for ax, title in ((loss_ax, "training loss"), (valid_ax, "validation NDCG@10")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines:
            ax.legend(frameon=False)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return True


def _plot_beyond(fig: Figure, models: Mapping[str, Mapping[str, Any]]) -> bool:
    keys = ("coverage@10", "diversity@10", "novelty@10")
    values = {k: [_num(_scores(m).get(k)) for m in models.values()] for k in keys}
    if all(v is None for vs in values.values() for v in vs):
        return False
    for ax, k in zip(fig.axes, keys, strict=True):
        _bars(ax, list(models), {k: values[k]})
        ax.set_title(k)
    return True


def _count(ns: Iterable[float | None]) -> str:
    found = sorted({int(n) for n in ns if n is not None})
    if not found:
        return ""
    if len(found) == 1:
        return f" (n={found[0]:,})"
    return f" (n={found[0]:,}–{found[-1]:,})"


def _plot_slices(fig: Figure, models: Mapping[str, Mapping[str, Any]]) -> bool:
    ms = list(models.values())
    labels = {
        s: s + " targets" + _count(_num(_slice(m, s).get("n_cases")) for m in ms)
        for s in ("tail", "head")
    }
    drawn = False
    for ax, k in zip(fig.axes, ("NDCG@10", "HR@10"), strict=True):
        series = {labels[s]: [_num(_slice(m, s).get(k)) for m in ms] for s in ("tail", "head")}
        drawn |= any(v is not None for vs in series.values() for v in vs)
        _bars(ax, list(models), series)
        ax.set_title(k)
    return drawn
