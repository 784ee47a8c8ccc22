"""Product search: catalogues, BM25 + dense (faiss) + hybrid retrieval, synthetic training
queries (templates and Gemma, InPars-style), encoder fine-tuning, perturbations, evaluation.

Heavy packages (bm25s, faiss, torch, sentence-transformers, nltk) load on first use.
"""

from shopaug.search._catalog import Catalog, Judgments, read_catalog, read_judgments
from shopaug.search._finetune import FinetuneConfig, finetune, mine_negatives
from shopaug.search._index import IndexConfig, SearchIndex
from shopaug.search._lexical import Analyzer, LexicalIndex
from shopaug.search._metrics import evaluate_rankings
from shopaug.search._perturb import Perturber, perturbed_set
from shopaug.search._pipeline import (
    AugmentConfig,
    BestConfig,
    augment_queries,
    build_best,
    evaluate_index,
    judged_pairs,
    read_pairs,
    train_encoder,
    write_pairs,
)
from shopaug.search._queries import (
    QueryFilter,
    QueryPairs,
    TemplateQueries,
    expand_texts,
    gemma_queries,
    inpars_prompt,
)
from shopaug.search._rebalance import (
    COMPARE_METHODS,
    REBALANCE_METHODS,
    PairFeatures,
    RebalanceConfig,
    RebalancedClassifier,
    compare_event_rebalancing,
    compare_rebalancing,
    event_features,
    pair_features,
    prior_correct,
    rebalance,
    recalibrate,
    relevance_classes,
    split_by_query,
)
from shopaug.search._wordnet import ensure_wordnet, synonyms

__all__ = [
    "COMPARE_METHODS",
    "REBALANCE_METHODS",
    "Analyzer",
    "AugmentConfig",
    "BestConfig",
    "Catalog",
    "FinetuneConfig",
    "IndexConfig",
    "Judgments",
    "LexicalIndex",
    "PairFeatures",
    "Perturber",
    "QueryFilter",
    "QueryPairs",
    "RebalanceConfig",
    "RebalancedClassifier",
    "SearchIndex",
    "TemplateQueries",
    "augment_queries",
    "build_best",
    "compare_event_rebalancing",
    "compare_rebalancing",
    "ensure_wordnet",
    "evaluate_index",
    "evaluate_rankings",
    "event_features",
    "expand_texts",
    "finetune",
    "gemma_queries",
    "inpars_prompt",
    "judged_pairs",
    "mine_negatives",
    "pair_features",
    "perturbed_set",
    "prior_correct",
    "read_catalog",
    "read_judgments",
    "read_pairs",
    "rebalance",
    "recalibrate",
    "relevance_classes",
    "split_by_query",
    "synonyms",
    "train_encoder",
    "write_pairs",
]
