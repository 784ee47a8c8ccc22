"""Sharded steps shared by every engine: each shard is an Arrow block, processed alone.

A block carries ``shard`` and ``shard_rows`` columns; a step checks that it received whole
shards (an engine that split one would change the random streams) and seeds each shard
from ``(seed, shard)``. Results are concatenated in shard order.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa

from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import ShopaugError

#: Users (or evaluation cases) per shard.
SHARD_ROWS = 8192

_NEG_STREAM = 0x4E  # keeps negatives' streams apart from augmentation's for one seed


def _list(seqs: Sequences) -> pa.ListArray:
    return pa.ListArray.from_arrays(
        pa.array(seqs.indptr, type=pa.int64()), pa.array(seqs.items, type=pa.int64())
    ).cast(pa.large_list(pa.int64()))


def _sequences(col: pa.ChunkedArray | pa.Array) -> Sequences:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    arr = arr.cast(pa.large_list(pa.int64()))
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    items = np.asarray(arr.flatten(), dtype=np.int64)
    return Sequences(offsets - offsets[0], items)


def _blocks(n: int, rows: int, columns: Callable[[np.ndarray], dict]) -> list[pa.Table]:
    """One block per shard of ``rows`` consecutive indices below ``n``: ``shard``,
    ``shard_rows`` and ``columns(indices)``."""
    blocks = []
    for shard, lo in enumerate(range(0, n, rows)):
        idx = np.arange(lo, min(lo + rows, n))
        blocks.append(pa.table({
            "shard": np.full(len(idx), shard, dtype=np.int64),
            "shard_rows": np.full(len(idx), len(idx), dtype=np.int64),
            **columns(idx),
        }))
    return blocks


def sequence_blocks(seqs: Sequences, rows: int = SHARD_ROWS) -> list[pa.Table]:
    """One block per shard of ``rows`` consecutive sequences: ``shard``, ``shard_rows``,
    ``row`` (index in ``seqs``) and ``items``."""
    return _blocks(len(seqs), rows, lambda idx: {"row": idx, "items": _list(seqs.rows(idx))})


def _shards(block: pa.Table) -> list[tuple[int, pa.Table]]:
    """The whole shards in ``block``, in order; an incomplete shard is an engine error."""
    shard = block["shard"].to_numpy()
    out = []
    for s in np.unique(shard):
        part = block.filter(pa.array(shard == s))
        if part.num_rows != int(part["shard_rows"][0].as_py()):
            raise ShopaugError(f"shard {s} arrived split ({part.num_rows} of "
                               f"{part['shard_rows'][0].as_py()} rows); the engine must keep "
                               "shards whole")
        out.append((int(s), part))
    return out


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(key)))


def augment_block(
    block: pa.Table, *, augmenter: Any, n_items: int, seed: int, copies: int, max_len: int
) -> pa.Table:
    """``shopaug.augment.expand`` on each shard of ``block`` with the shard's own stream;
    ``user`` and ``source`` are rows of the whole training set."""
    from shopaug.augment import expand

    out = []
    for shard, part in _shards(block):
        rows = part["row"].to_numpy()
        sub = TrainSet(sequences=_sequences(part["items"]), n_items=n_items)
        t = expand(sub, augmenter, _rng(seed, shard), copies=copies, max_len=max_len)
        src = pa.array(rows[t["source"].to_numpy()], type=pa.int64())
        t = t.set_column(t.schema.get_field_index("user"), "user", src)
        t = t.set_column(t.schema.get_field_index("source"), "source", src)
        out.append(t.add_column(0, "shard", pa.array(np.full(t.num_rows, shard))))
    return pa.concat_tables(out)


def augment(
    train: TrainSet, augmenter: Any, seed: int, *, copies: int = 1, max_len: int = 50,
    engine: Any = None, rows: int = SHARD_ROWS,
) -> pa.Table:
    """The expanded training set (``shopaug.augment.expand``'s columns), sharded by users.

    ``augmenter`` must be fitted on ``train`` (the training partition only)."""
    fn = partial(augment_block, augmenter=augmenter, n_items=train.n_items, seed=seed,
                 copies=copies, max_len=max_len)
    return _run(engine, fn, sequence_blocks(train.sequences, rows))


def negatives_block(block: pa.Table, *, sampler: Any, k: int, seed: int) -> pa.Table:
    """``k`` negatives for every training interaction of each shard: ``user``, ``position``
    (index in the user's sequence), ``item`` and ``negatives``."""
    out = []
    for shard, part in _shards(block):
        seqs = _sequences(part["items"])
        users = np.repeat(part["row"].to_numpy(), seqs.lengths)
        pos = np.arange(len(seqs.items)) - np.repeat(seqs.indptr[:-1], seqs.lengths)
        neg = sampler.sample(seqs.items, k, _rng(seed, _NEG_STREAM, shard), users=users)
        out.append(pa.table({
            "shard": np.full(len(users), shard, dtype=np.int64),
            "user": users, "position": pos, "item": seqs.items,
            "negatives": pa.FixedSizeListArray.from_arrays(pa.array(neg.ravel()), k),
        }))
    return pa.concat_tables(out)


def negatives(
    train: TrainSet, sampler: Any, k: int, seed: int, *, engine: Any = None,
    rows: int = SHARD_ROWS,
) -> pa.Table:
    """Negatives for every training interaction from a sampler fitted on ``train``."""
    fn = partial(negatives_block, sampler=sampler, k=k, seed=seed)
    return _run(engine, fn, sequence_blocks(train.sequences, rows))


def case_blocks(cases: Any, rows: int = SHARD_ROWS) -> list[pa.Table]:
    """Evaluation cases (``shopaug.evaluation.Targets``) as blocks of ``rows`` cases."""
    return _blocks(len(cases), rows, lambda idx: {
        "case": idx,
        "user": np.asarray(cases.users[idx], dtype=np.int64),
        "history": _list(cases.history.rows(idx)),
        "target": np.asarray(cases.target[idx], dtype=np.int64),
    })


def rank_block(block: pa.Table, *, model: Any, history: str, k: int) -> pa.Table:
    """Target rank and top-``k`` list of every case in ``block`` (full ranking)."""
    from shopaug.evaluation import Targets
    from shopaug.evaluation._protocol import rank_cases as rank_all

    cases = Targets(
        users=block["user"].to_numpy(), history=_sequences(block["history"]),
        target=block["target"].to_numpy(),
    )
    ranks, tops = rank_all(model, cases, history=history, k=k)
    return pa.table({
        "shard": block["shard"], "case": block["case"], "rank": ranks,
        "top": pa.FixedSizeListArray.from_arrays(pa.array(tops.ravel()), tops.shape[1]),
    })


def rank_cases(
    model: Any, cases: Any, *, history: str = "exclude", k: int = 20, engine: Any = None,
    rows: int = SHARD_ROWS,
) -> tuple[np.ndarray, np.ndarray]:
    """Ranks and top-``k`` lists of all cases, sharded by cases, gathered in case order:
    the same arrays as ``shopaug.evaluation`` computes in one process."""
    if len(cases) == 0:
        return np.empty(0, dtype=np.int64), np.empty((0, k), dtype=np.int64)
    table = _run(engine, partial(rank_block, model=model, history=history, k=k),
                 case_blocks(cases, rows))
    order = np.argsort(table["case"].to_numpy(), kind="stable")
    col = table["top"].combine_chunks()
    tops = np.asarray(col.flatten(), dtype=np.int64).reshape(len(col), -1)
    return table["rank"].to_numpy()[order], tops[order]


def _run(engine: Any, fn: Callable[[pa.Table], pa.Table], blocks: list[pa.Table]) -> pa.Table:
    """``fn`` over every block on ``engine`` (local when None), in shard order."""
    if not blocks:
        raise ShopaugError("nothing to process: no training sequences or evaluation cases")
    if engine is None:
        from shopaug.engine._local import LocalEngine

        engine = LocalEngine()
    table = pa.concat_tables(engine.map_blocks(fn, blocks))
    # engines may return blocks in any order; shards are numbered in data order
    order = np.argsort(table["shard"].to_numpy(), kind="stable")
    return table.take(pa.array(order)).drop_columns(["shard"])
