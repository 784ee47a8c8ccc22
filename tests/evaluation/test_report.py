"""The HTML report is self-contained, escaped, atomic; the terminal table is aligned."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shopaug.evaluation.report import format_table, write_report

EVIL = "<script>alert(1)</script>"


def _scores(hr10: float, ndcg10: float, *, diversity: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "split": "test",
        "history": "exclude",
        "n_cases": 100,
        "HR@5": hr10 * 0.7,
        "HR@10": hr10,
        "HR@20": hr10 * 1.4,
        "NDCG@5": ndcg10 * 0.8,
        "NDCG@10": ndcg10,
        "NDCG@20": ndcg10 * 1.1,
        "MRR@10": ndcg10 * 0.75,
        "coverage@10": 0.5,
        "novelty@10": 11.2,
        "slices": {
            "tail": {"n_cases": 15, "HR@10": hr10 / 5, "NDCG@10": ndcg10 / 5},
            "head": {"n_cases": 85, "HR@10": hr10, "NDCG@10": ndcg10},
        },
    }
    if diversity:
        out["diversity@10"] = 0.8
    return out


@pytest.fixture
def results() -> dict[str, Any]:
    return {
        "name": "demo",
        "created": "2026-11-22T07:00:00Z",
        "data": {"source": "tiny", "stats": {"users": 100, "items": 50, "seq_len_mean": 8.88}},
        "protocol": {
            "split": "leave-one-out",
            "ranking": "full",
            "history_conventions": ["exclude", "zero", "keep"],
            "max_len": 50,
        },
        "machine": {"cpus": 2, "python": "3.11.7"},
        "primary": "sasrec",
        "models": {
            "sasrec": {
                "config": {"dim": 64, "note": EVIL},
                "fit_seconds": 612.3,
                "peak_rss_mb": 1800.0,
                "history": [
                    {"epoch": 1, "loss": 9.1, "valid": 0.012, "seconds": 33.0},
                    {"epoch": 2, "loss": 8.5, "valid": 0.02, "seconds": 32.0},
                ],
                "valid": {"HR@10": 0.09, "NDCG@10": 0.05},
                "test": {c: _scores(0.09, 0.0551) for c in ("exclude", "zero", "keep")},
            },
            "popularity": {
                "config": {},
                "fit_seconds": 0.2,
                "history": [],
                "test": {
                    c: _scores(0.04, 0.0213, diversity=False) for c in ("exclude", "zero", "keep")
                },
            },
            EVIL: {"config": {}, "test": {"exclude": _scores(0.01, 0.0042)}},
        },
    }


def test_report_is_self_contained(results: dict[str, Any], tmp_path: Path) -> None:
    path = write_report(results, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert path.exists()
    for name in ("sasrec", "popularity"):
        assert name in text
    assert text.count('<img src="data:image/png;base64,') >= 5
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", text)
    assert "http://" not in text and "https://" not in text


def test_best_value_is_bold(results: dict[str, Any], tmp_path: Path) -> None:
    text = write_report(results, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<b>0.0551</b>" in text
    assert "<b>0.0213</b>" not in text


def test_strings_are_escaped(results: dict[str, Any], tmp_path: Path) -> None:
    text = write_report(results, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_write_is_atomic(results: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "runs" / "demo" / "report.html"
    write_report(results, out)
    write_report(results, out)  # replacing an existing report also leaves nothing behind
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def test_missing_parts_do_not_fail(tmp_path: Path) -> None:
    text = write_report({"name": "empty"}, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "empty" in text and "No models" in text


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, shopaug.evaluation.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_format_table(results: dict[str, Any]) -> None:
    text = format_table(results)
    lines = text.splitlines()
    assert "history=exclude" in lines[0]
    assert "0.0551" in text and "0.0900" in text and "11.2000" in text
    row = next(line for line in lines if line.startswith("popularity"))
    assert row.split()[7] == "-"  # diversity@10 is missing
    # Right-aligned numbers: every row ends each column at the same character offset.
    table = lines[1:2] + lines[3:]
    assert len({len(line) for line in table}) == 1
    ends = [m.end() for m in re.finditer(r"\S+", lines[1])][-9:]  # 8 metrics + fit time
    for line in table:
        assert [m.end() for m in re.finditer(r"\S+", line)][-9:] == ends
