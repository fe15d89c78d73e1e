"""The embedding backends: torch and the int8 ONNX export (index/onnx_embed.py), chosen by
`QA_EMBED_BACKEND`; an index refuses vectors from the other one. The tests marked slow export the
packaged MiniLM (about 15 s once per cache folder) and run both backends."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from index import EmbedderMismatch, Index, SentenceTransformerEmbedder, make_embedder
from index.embed import DEFAULT_BACKEND
from index.onnx_embed import RECIPE, OnnxEmbedder, _identity, _stamp_ok, export_folder
from qa import Settings
from qa.assistant import embedder_for
from qa.errors import SettingsError

from .conftest import ROOT, SEED
from .fakes import HashEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_the_setting_chooses_the_backend(tmp_path):
    torch_one = embedder_for(Settings.from_env({"QA_EMBED_BACKEND": "torch"}, cache_dir=tmp_path))
    onnx_one = embedder_for(Settings.from_env({"QA_EMBED_BACKEND": "onnx-int8"}, cache_dir=tmp_path))
    assert Settings.from_env({}).embed_backend == DEFAULT_BACKEND == "torch"  # docs/embedding.md, "Default"
    assert isinstance(torch_one, SentenceTransformerEmbedder) and isinstance(onnx_one, OnnxEmbedder)
    assert onnx_one.name == torch_one.name + "+onnx-int8" and onnx_one.cache_dir == tmp_path
    assert not (tmp_path / "embedders").exists()  # nothing is exported before the first use
    with pytest.raises(SettingsError, match="embed_backend"):
        Settings.from_env({"QA_EMBED_BACKEND": "tensorflow"})
    with pytest.raises(ValueError, match="onnx-int8"):
        make_embedder(backend="tensorflow")


def test_an_index_refuses_the_other_backend(tmp_path, seed_corpus):
    """The check is by name, and each backend names itself apart (their vectors differ a little)."""
    Index.open(tmp_path / "d", HashEmbedder(name="m"), create=True).sync([seed_corpus])
    with pytest.raises(EmbedderMismatch, match="QA_EMBED_BACKEND"):
        Index.open(tmp_path / "d", HashEmbedder(name="m+onnx-int8"))


def test_an_export_is_redone_when_what_it_came_from_changed(tmp_path):
    source = tmp_path / "model"
    source.mkdir()
    (source / "model.safetensors").write_bytes(b"weights")
    folder = export_folder("org/model", tmp_path / "cache")
    assert folder.parent == tmp_path / "cache" / "embedders" and folder.name == "org_model-onnx-int8"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx")
    (folder / "tokenizer.json").write_text("{}")
    st = (folder / "model.onnx").stat()
    identity = _identity(source)
    (folder / "export.json").write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, **identity}))
    assert identity["recipe"] == RECIPE and _stamp_ok(folder, identity)
    (source / "model.safetensors").write_bytes(b"other weights")
    assert not _stamp_ok(folder, _identity(source))
    (folder / "model.onnx").write_bytes(b"changed")
    assert not _stamp_ok(folder, identity)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return SentenceTransformerEmbedder(), make_embedder(backend="onnx-int8", cache_dir=cache), cache


@pytest.mark.slow
def test_int8_vectors_are_close_to_torch_and_count_the_same_tokens(both):
    torch_one, onnx_one, cache = both
    texts = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += ["Who is nicknamed Doctor No?", "Lavrov", "x " * 600]
    cosines = (torch_one.embed(texts) * onnx_one.embed(texts)).sum(axis=1)
    # measured (docs/embedding.md): at worst 0.987 over 512 news passages and 0.990 over 500 questions
    assert cosines.min() >= 0.98, cosines.min()
    assert onnx_one.embed([""]).shape == (1, 384)
    assert [onnx_one.count_tokens(t) for t in texts] == [torch_one.count_tokens(t) for t in texts]
    assert (onnx_one.dim, onnx_one.max_tokens) == (torch_one.dim, torch_one.max_tokens)
    meta = json.loads((export_folder(torch_one.name, cache) / "export.json").read_text())
    assert meta["min_cosine"] >= 0.98 and meta["recipe"] == RECIPE


@pytest.mark.slow
def test_the_export_loads_offline_without_torch(both):
    """A later process loads the checked export with onnxruntime and tokenizers only."""
    _, onnx_one, cache = both
    onnx_one.embed(["make sure it is exported"])
    code = ("import sys, numpy as np; from index import make_embedder; "
            f"e = make_embedder(backend='onnx-int8', cache_dir={str(cache)!r}); v = e.embed(['Lavrov', 'Doctor No']); "
            "assert v.shape == (2, 384) and np.allclose((v * v).sum(1), 1, atol=1e-5); "
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules; print('ok')")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.slow
def test_an_index_built_with_torch_refuses_int8_queries(both, tmp_path, seed_corpus):
    torch_one, onnx_one, _ = both
    index = Index.open(tmp_path / "d", torch_one, create=True)
    index.sync([seed_corpus])
    with pytest.raises(EmbedderMismatch, match="built with the embedder 'sentence-transformers/all-MiniLM-L6-v2'"):
        Index.open(tmp_path / "d", onnx_one)
    int8 = Index.open(tmp_path / "e", onnx_one, create=True)
    int8.sync([seed_corpus])
    assert [p.paragraph for p in int8.passages] == [p.paragraph for p in index.passages]
    assert int8.search('Who is nicknamed "Doctor No"?', 1)[0].paragraph == 3
    question = "Why does Russia reject European troops in Ukraine?"
    assert np.isclose(int8.search(question, 1, "dense")[0].score, index.search(question, 1, "dense")[0].score,
                      atol=0.02)
