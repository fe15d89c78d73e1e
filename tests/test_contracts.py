"""One contract per seam, run over every implementation: the fake and the real embedder, and every
vector store. A second store backend joins the `STORES` list and must pass the same tests."""
import numpy as np
import pytest

from index import SentenceTransformerEmbedder, make_embedder
from index.store import FaissStore

from .fakes import HashEmbedder

EMBEDDERS = [pytest.param(HashEmbedder, id="fake"),
             pytest.param(SentenceTransformerEmbedder, id="minilm", marks=pytest.mark.slow),
             pytest.param(lambda: make_embedder(backend="onnx-int8"), id="minilm-onnx-int8", marks=pytest.mark.slow)]
STORES = [pytest.param(FaissStore, id="faiss")]


@pytest.fixture(params=EMBEDDERS)
def any_embedder(request):
    return request.param()


def test_embedder_gives_unit_float32_rows(any_embedder):
    vectors = any_embedder.embed(["Sergei Lavrov is called Doctor No.", "Bananas are yellow."])
    assert vectors.dtype == np.float32 and vectors.shape == (2, any_embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert any_embedder.embed([]).shape == (0, any_embedder.dim)


def test_embedder_is_deterministic_and_ranks_by_meaning(any_embedder):
    a, b, c = any_embedder.embed(["Lavrov is nicknamed Doctor No.", "Doctor No is Lavrov's nickname.",
                                  "Bananas grow in warm countries."])
    assert np.allclose(any_embedder.embed(["Lavrov is nicknamed Doctor No."])[0], a, atol=1e-5)
    assert a @ b > a @ c


def test_embedder_counts_tokens_and_names_itself(any_embedder):
    assert any_embedder.name and any_embedder.max_tokens > 0
    assert any_embedder.count_tokens("one two three four five six") > any_embedder.count_tokens("one") >= 1


@pytest.fixture(params=STORES)
def store_class(request):
    return request.param


def unit(rows: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_store_searches_by_inner_product(store_class):
    store, vectors = store_class(8), unit(5)
    store.add(vectors)
    scores, rows = store.search(vectors[3], 2)
    assert len(store) == 5 and rows[0][0] == 3 and scores[0][0] == pytest.approx(1.0, abs=1e-5)
    assert scores[0][0] >= scores[0][1]
    assert np.allclose(store.vectors([3, 1]), vectors[[3, 1]], atol=1e-6)


def test_store_edges(store_class):
    store = store_class(8)
    scores, rows = store.search(unit(1)[0], 3)
    assert rows.shape == (1, 0) and scores.shape == (1, 0)
    with pytest.raises(ValueError):
        store.add(np.zeros((2, 5), dtype=np.float32))
    assert store.vectors([]).shape == (0, 8)


def test_store_take_renumbers_and_save_load_round_trips(store_class, tmp_path):
    store, vectors = store_class(8), unit(6)
    store.add(vectors)
    taken = store.take([4, 0])
    assert len(taken) == 2 and len(store) == 6  # a new store; the old one is untouched
    assert np.allclose(taken.vectors([0, 1]), vectors[[4, 0]], atol=1e-6)
    taken.save(tmp_path / "v.store")
    loaded = store_class.load(tmp_path / "v.store")
    assert loaded.dim == 8 and len(loaded) == 2
    assert loaded.search(vectors[0], 1)[1][0][0] == 1
