"""FAISS over passage ids, its kind chosen by size: exact inner product below `EXACT_BELOW` vectors;
above, an inverted-file index whose lists hold 4-bit product-quantised codes of each vector's
residual (vector minus its list's centroid, two dimensions a code), scanned with FAISS's SIMD "fast
scan" (`IndexIVFPQFastScan`) for a shortlist of `SHORTLIST` candidates that float16 copies of
the vectors re-score (`IndexRefine` over an fp16 `IndexScalarQuantizer`: scores exact to ≈ 1e-4,
so the store need not read exact vectors to re-rank), all under an `IndexIDMap2` for the 64-bit
passage ids. It is trained on a sample and retrained when the corpus
has grown well past its training. Vectors are unit rows, so inner products are cosine
similarities.

Removing: the exact index removes ids in place. Fast-scan lists cannot (FAISS does not implement
it), so a removed id is *hidden*: searches skip it through an `IDSelector` over FAISS rows, `hidden`
lists it, and the index asks to be rebuilt once more than `HIDDEN_SHARE` of what it holds is
hidden. A saved index holds its hidden ids; the store keeps them in SQLite (its `tombstones`) and
hides them again after loading. A search for every row (k ≥ the size) scores every float16 copy, since
fast scan may leave out the least similar rows.

Measured with `bench/scale.py` and `bench/dense_sweep.py` on this 2-core machine (docs/scale.md):
exact search of one query over 50,000 384-d vectors takes ≈ 4.7 ms on one core, the dense-search
budget. At 1,000,000 the IVF-SQ8 index used before needed 8–12 % of its lists scanned (6–10 ms)
for recall@10 ≥ 0.95; this one, scanning 12 % with a 2,000-candidate shortlist, answers a whole
dense `Index.search` in 3.6–4.0 ms at recall@10 0.961 (≈ 890 bytes a vector in memory). HNSW was
measured and rejected: on the benchmark's vectors it reached recall@10 0.91 only at efSearch 2,048
(4.6 ms) at 100,000 passages, and it cannot remove ids either.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .files import commit

EXACT_BELOW = 50_000  # vectors; above, IVF fast scan with a float16 refine
RETRAIN_GROWTH = 4  # an IVF index built for n vectors is retrained once it holds more than 4 n
TRAIN_SAMPLE = 64  # training vectors per inverted list (FAISS warns below 39)
NPROBE_SHARE = 0.12  # inverted lists visited per query (at least 16)
SHORTLIST = 2000  # fast-scan candidates re-scored by the float16 copies (docs/scale.md)
HIDDEN_SHARE = 0.1  # rebuild once more than this share of the IVF index is removed ids


SMALL = 100_000  # vectors an index is built from on one thread: OpenMP's waiting threads made
# training on 1,000 vectors take 7-10 s instead of 0.02 s on this busy 2-core machine (measured)


@contextmanager
def threads(n: int):
    """FAISS's OpenMP threads set to `n` (0: left as they are) inside the block."""
    import faiss

    before = faiss.omp_get_max_threads()
    if n:
        faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def lists_for(n: int) -> int:
    """Inverted lists for `n` vectors: ≈ 2√n.

    >>> lists_for(1_000_000), lists_for(60_000)
    (2000, 489)
    """
    return max(64, int(2 * np.sqrt(n)))


class VectorIndex:
    """FAISS index keyed by 64-bit passage ids. `kind` is "flat" (exact) or "ivf"."""

    def __init__(self, dim: int, index=None):
        import faiss

        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        inner = faiss.downcast_index(self._index.index) if hasattr(self._index, "index") else None
        self._refine = inner if isinstance(inner, faiss.IndexRefine) else None
        self._hidden: dict[int, int] = {}  # removed passage id -> FAISS row (IVF kind only)
        self._selector = None

    @property
    def kind(self) -> str:
        return "ivf" if self._ivf() is not None else "flat"

    @property
    def built_for(self) -> int:
        """How many vectors an IVF index was sized for (`lists_for` inverted)."""
        ivf = self._ivf()
        return 0 if ivf is None else int((ivf.nlist / 2) ** 2)

    @property
    def exact_scores(self) -> bool:
        """Whether search scores are exact to float16 (flat, or an IVF refined by float16 codes):
        8-bit ones (IVF-SQ8 or an SQ8 refine) are not, and the store re-ranks by the exact vectors."""
        import faiss

        if self.kind == "flat":
            return True
        refine = faiss.downcast_index(self._refine.refine_index) if self._refine is not None else None
        return isinstance(refine, faiss.IndexScalarQuantizer) and refine.sq.qtype == faiss.ScalarQuantizer.QT_fp16

    @property
    def hidden(self) -> list[int]:
        """Removed ids the index still holds (skipped by searches), ascending."""
        return sorted(self._hidden)

    def _ivf(self):
        import faiss

        try:
            return faiss.extract_index_ivf(self._index)
        except RuntimeError:
            return None

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._hidden)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(vectors):
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids) -> None:
        import faiss

        ids = np.asarray(list(ids), dtype=np.int64)
        if not len(ids):
            return
        if self._refine is None:
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            return
        rows = self._rows(ids)
        self._hidden.update(rows)
        positions = np.fromiter(self._hidden.values(), dtype=np.int64, count=len(self._hidden))
        batch = faiss.IDSelectorBatch(positions)
        self._selector = (batch, faiss.IDSelectorNot(batch))  # FAISS rows, not passage ids: the
        # refine index passes its selector to the fast-scan index, below the id map

    def _rows(self, ids: np.ndarray) -> dict[int, int]:
        """FAISS rows of the passage ids in `ids` that the index holds."""
        import faiss

        id_map = faiss.vector_to_array(self._index.id_map)  # ascending in practice: ids only grow
        if not len(id_map):
            return {}
        order = np.argsort(id_map, kind="stable")
        at = np.minimum(np.searchsorted(id_map, ids, sorter=order), len(id_map) - 1)
        return {int(i): int(order[a]) for i, a in zip(ids, at) if id_map[order[a]] == i}

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the best `k` for one query vector, best first (ids -1 pad short results)."""
        import faiss

        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        query = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        index, params, ivf = self._index, None, self._ivf()
        if self._refine is not None:
            scan = faiss.SearchParametersIVF() if k < len(self) else faiss.SearchParameters()
            if self._selector is not None:
                scan.sel = self._selector[1]
            if k < len(self):
                scan.nprobe = min(ivf.nlist, max(16, int(ivf.nlist * NPROBE_SHARE)))
                params = faiss.IndexRefineSearchParameters(k_factor=max(1.0, SHORTLIST / k), base_index_params=scan)
            else:  # everything: every float16 copy (fast scan may leave out the least similar rows)
                index, params = faiss.downcast_index(self._refine.refine_index), scan
        elif ivf is not None:  # an IVF-SQ8 snapshot written before the fast-scan kind
            ivf.nprobe = max(16, int(ivf.nlist * NPROBE_SHARE))
        with threads(1):  # one query: threads cost more than they give (measured)
            scores, ids = index.search(query, k, params=params)
        if index is not self._index:  # FAISS rows to passage ids
            ids = np.where(ids >= 0, faiss.vector_to_array(self._index.id_map)[np.maximum(ids, 0)], -1)
        return scores[0], ids[0]

    def wants_rebuild(self) -> bool:
        """Whether the kind no longer fits the size (exact past the threshold, IVF grown past its
        training or shrunk far below the threshold, too many hidden ids, or an IVF index of the
        older IVF-SQ8 kind)."""
        n = len(self)
        if self.kind == "flat":
            return n >= EXACT_BELOW
        return (self._refine is None or n > RETRAIN_GROWTH * max(self.built_for, EXACT_BELOW)
                or n < EXACT_BELOW // 2 or len(self._hidden) > HIDDEN_SHARE * self._index.ntotal)

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, seed: int = 0) -> "VectorIndex":
        """The right kind of index for this many vectors, holding them."""
        import faiss

        n = len(ids)
        if n < EXACT_BELOW:
            index = cls(dim)
        else:
            nlist = lists_for(n)
            scan = faiss.IndexIVFPQFastScan(faiss.IndexFlatIP(dim), dim, nlist, dim // 2 if dim % 2 == 0 else dim, 4,
                                            faiss.METRIC_INNER_PRODUCT)
            scan.by_residual = True  # codes of the vector minus its list's centroid: a far better
            scan.cp.seed = seed  # shortlist than codes of the vector itself (measured, docs/scale.md)
            inner = faiss.IndexRefine(scan, faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16,
                                                                       faiss.METRIC_INNER_PRODUCT))
            sample = np.random.default_rng(seed).choice(n, size=min(n, nlist * TRAIN_SAMPLE), replace=False)
            with threads(1 if n < SMALL else 0):
                inner.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
            index = cls(dim, faiss.IndexIDMap2(inner))
        with threads(1 if n < SMALL else 0):
            index.add(ids, vectors)
        return index

    def save(self, path: Path) -> None:
        import faiss

        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(tmp))
        commit(tmp, path)  # fsync the file, rename, fsync the folder (index/files.py)

    @classmethod
    def load(cls, path: Path) -> "VectorIndex":
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index)
