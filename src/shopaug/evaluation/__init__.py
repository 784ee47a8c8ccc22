"""Splits, full-ranking protocol and metrics."""

from shopaug.evaluation._metrics import (
    coverage,
    hit_rate,
    intra_list_diversity,
    item_features,
    mrr,
    ndcg,
    ndcg_per_case,
    novelty,
)
from shopaug.evaluation._protocol import (
    HISTORY_CONVENTIONS,
    SHORT_MAX,
    TAIL_MAX,
    accuracy,
    apply_history,
    cold_metrics,
    evaluate,
    rank_cases,
    target_ranks,
    top_k,
)
from shopaug.evaluation._split import (
    Split,
    Targets,
    cold_items,
    leave_one_out,
    temporal_split,
)

__all__ = [
    "HISTORY_CONVENTIONS",
    "SHORT_MAX",
    "TAIL_MAX",
    "Split",
    "Targets",
    "accuracy",
    "apply_history",
    "cold_items",
    "cold_metrics",
    "coverage",
    "evaluate",
    "hit_rate",
    "intra_list_diversity",
    "item_features",
    "leave_one_out",
    "mrr",
    "ndcg",
    "ndcg_per_case",
    "novelty",
    "rank_cases",
    "target_ranks",
    "temporal_split",
    "top_k",
]
