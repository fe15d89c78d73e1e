"""FAISS over passage ids, its kind chosen by size: exact inner product below `EXACT_BELOW` vectors,
an inverted-file index with 8-bit scalar quantisation (IVF-SQ8) above, trained on a sample and
retrained when the corpus has grown well past its training. Both kinds add and remove single ids
in place. Vectors are unit rows, so inner products are cosine similarities.

The thresholds were measured with `bench/scale.py` (docs/scale.md): exact search of one query over
50,000 384-d vectors takes ≈ 4.7 ms on one core of this 2-core machine, the dense-search budget.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import commit

EXACT_BELOW = 50_000  # vectors; above, IVF-SQ8
RETRAIN_GROWTH = 4  # an IVF index built for n vectors is retrained once it holds more than 4 n
TRAIN_SAMPLE = 64  # training vectors per inverted list (FAISS warns below 39)
NPROBE_SHARE = 0.12  # inverted lists visited per query (at least 16): recall@10 ≈ 0.95 (docs/scale.md)


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

    @property
    def kind(self) -> str:
        return "ivf" if self._ivf() is not None else "flat"

    @property
    def built_for(self) -> int:
        """How many vectors an IVF index was sized for (`lists_for` inverted)."""
        ivf = self._ivf()
        return 0 if ivf is None else int((ivf.nlist / 2) ** 2)

    def _ivf(self):
        import faiss

        try:
            return faiss.extract_index_ivf(self._index)
        except RuntimeError:
            return None

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(vectors):
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids) -> None:
        import faiss

        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids):
            self._index.remove_ids(faiss.IDSelectorBatch(ids))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the best `k` for one query vector, best first (ids -1 pad short results)."""
        import faiss

        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        query = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        ivf = self._ivf()
        if ivf is not None:
            ivf.nprobe = max(16, int(ivf.nlist * NPROBE_SHARE))
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # one query: threads cost more than they give (measured)
        try:
            scores, ids = self._index.search(query, k)
        finally:
            faiss.omp_set_num_threads(threads)
        return scores[0], ids[0]

    def wants_rebuild(self) -> bool:
        """Whether the kind no longer fits the size (exact past the threshold, IVF grown past its
        training or shrunk far below the threshold)."""
        n = len(self)
        if self.kind == "flat":
            return n >= EXACT_BELOW
        return n > RETRAIN_GROWTH * max(self.built_for, EXACT_BELOW) or n < EXACT_BELOW // 2

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, seed: int = 0) -> "VectorIndex":
        """The right kind of index for this many vectors, holding them."""
        import faiss

        n = len(ids)
        if n < EXACT_BELOW:
            index = cls(dim)
        else:
            nlist = lists_for(n)
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                faiss.METRIC_INNER_PRODUCT)
            ivf.cp.seed = seed
            sample = np.random.default_rng(seed).choice(n, size=min(n, nlist * TRAIN_SAMPLE), replace=False)
            ivf.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
            index = cls(dim, ivf)
            index._quantizer = quantizer  # keep the Python object alive with the index
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
