"""The vector-store seam and its FAISS implementation (exact inner product on unit vectors)."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .files import commit


class VectorStore(Protocol):
    """Everything `Index` asks of a vector store, so that another backend can be written against it.

    Rows are numbered 0..len-1 in insertion order; `search` returns (scores, rows) per query, best
    first, scores being inner products of unit vectors (cosine similarities). A store is replaced,
    never edited in place, on update (`take` then `add`), and written whole by `save`; `load` is
    the class's way back from that file."""

    dim: int

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def vectors(self, rows: Sequence[int]) -> np.ndarray: ...

    def take(self, rows: Sequence[int]) -> "VectorStore": ...

    def save(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: Path) -> "VectorStore": ...


class FaissStore:
    """`IndexFlatIP` over L2-normalised vectors: scores are cosine similarities."""

    def __init__(self, dim: int, index=None):
        import faiss

        self.dim = dim
        self._index = index if index is not None else faiss.IndexFlatIP(dim)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(vectors):
            self._index.add(vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self))
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        return self._index.search(queries, k)

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of `rows` (exact: the flat index keeps them)."""
        if not len(rows):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._index.reconstruct(int(r)) for r in rows]).astype(np.float32)

    def take(self, rows: Sequence[int]) -> "FaissStore":
        """A new store holding only `rows`, renumbered 0..len(rows)-1 in the given order."""
        store = FaissStore(self.dim)
        store.add(self.vectors(rows))
        return store

    def save(self, path: Path) -> None:
        import faiss

        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(tmp))
        commit(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "FaissStore":
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index)
