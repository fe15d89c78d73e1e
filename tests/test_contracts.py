"""One contract per seam, run over every implementation: the fake and the real embedder, and every
store (index/store.py). A new store backend joins the `STORES` list and must pass the same tests."""
import numpy as np
import pytest

from index import Index, Passage, SentenceTransformerEmbedder, make_embedder
from index.store import open_store

from .fakes import HashEmbedder

EMBEDDERS = [pytest.param(HashEmbedder, id="fake"),
             pytest.param(SentenceTransformerEmbedder, id="minilm", marks=pytest.mark.slow),
             pytest.param(lambda: make_embedder(backend="onnx-int8"), id="minilm-onnx-int8", marks=pytest.mark.slow)]
STORES = ["local", "milvus-lite"]  # SQLite + FTS5 + FAISS; Milvus Lite (embedded, started here)


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
def store_at(request, tmp_path):
    """Opens the store under test at a folder (and reopens it there, as a new process would)."""
    opened = []

    def at(folder=tmp_path / "data"):
        uri = str(tmp_path / "milvus" / "qa.db") if request.param == "milvus-lite" else ""
        if opened:
            opened[-1].close()
        opened.append(open_store(uri, folder))
        return opened[-1]

    yield at
    opened[-1].close()


def unit(rows: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


META = {"chunking": "paragraphs-v1", "embedder": {"name": "fake/hash-bow", "dim": 8}}
TEXTS = ["The Vostok-7 probe landed on 14 March 2021.", "Boats are floating in the harbour.",
         "Apples grow on trees in the orchard.", "The harbour master counted the ships."]


def passages_of(doc: str, texts=TEXTS) -> list[Passage]:
    return [Passage(doc, "Title", i + 1, t, 0.0, i * 100, i * 100 + len(t), 0) for i, t in enumerate(texts)]


def test_store_starts_empty(store_at):
    store = store_at()
    assert store.meta() is None and len(store) == 0 and store.documents() == {} and store.ids() == []
    assert store.dense(unit(1)[0], 3) == [] and store.lexical("harbour", 3) == [] and store.hybrid(unit(1)[0], "harbour", 3) == []


def test_store_searches_dense_lexical_and_hybrid(store_at):
    store, vectors = store_at(), unit(4)
    store.update([], passages_of("a.txt"), vectors, {"a.txt": {"sha256": "1", "passages": 4}}, META)
    assert len(store) == 4 and store.meta() == META and store.documents() == {"a.txt": {"sha256": "1", "passages": 4}}
    ids = store.dense(vectors[2], 4)
    assert len(ids) == 4 and store.passages(ids[:1])[0].text == TEXTS[2]
    assert np.allclose(store.vectors(ids[:1])[0], vectors[2], atol=1e-6)
    cosines = store.vectors(ids) @ vectors[2]
    assert list(cosines) == sorted(cosines, reverse=True)  # best first
    assert store.passages(store.lexical("When did Vostok-7 land?", 4))[0].text == TEXTS[0]  # stemmed: land ~ landed
    assert {p.text for p in store.passages(store.lexical("harbours", 4))} == {TEXTS[1], TEXTS[3]}
    assert store.lexical("zzz unknownword", 4) == [] and store.lexical("the", 4) == []  # a stop word only
    fused = store.passages(store.hybrid(vectors[2], "Vostok-7 probe", 4))
    assert {fused[0].text, fused[1].text} == {TEXTS[0], TEXTS[2]}  # each ranking's best leads
    assert store.passages(list(reversed(ids))) == list(reversed(store.passages(ids)))  # in the order asked
    assert store.passages(ids[:1])[0].start in (0, 100, 200, 300)  # every field round-trips


def test_store_replaces_and_removes_documents_and_persists(store_at, tmp_path):
    store = store_at()
    store.update([], passages_of("a.txt"), unit(4), {"a.txt": {"sha256": "1"}}, META)
    store.update([], passages_of("b.txt", TEXTS[:2]), unit(2, seed=1), {"b.txt": {"sha256": "2"}}, META)
    store.update(["a.txt"], passages_of("a.txt", ["Quokkas live on Rottnest Island."]), unit(1, seed=2),
                 {"a.txt": {"sha256": "3"}}, {**META, "chunking": "x"})
    assert len(store) == 3 and store.documents() == {"a.txt": {"sha256": "3"}, "b.txt": {"sha256": "2"}}
    assert [p.text for p in store.in_document("b.txt")] == TEXTS[:2]
    assert [p.text for p in store.passages(store.lexical("orchard apples", 5))] == []  # old a.txt rows gone
    store.update(["b.txt"], [], np.zeros((0, 8), np.float32), {}, META)
    again = store_at()  # reopened, as another process would
    assert again.meta() == META and list(again.documents()) == ["a.txt"] and len(again) == 1
    assert [p.text for p in again.passages(again.ids())] == ["Quokkas live on Rottnest Island."]
    assert again.passages(again.dense(unit(1, seed=2)[0], 3))[0].doc == "a.txt"


def test_store_keeps_locations_and_exact_source_names(store_at):
    """A passage's location and page (issue 15) and a source path that is not UTF-8 (issue 14)
    come back as they went in, after a reopen, from every way of reading."""
    import os
    from dataclasses import replace

    store, vectors = store_at(), unit(4)
    places = [("p. 1", 1), ("p. 2", 2), ("slide 3", 3), ("", 0)]
    located = [replace(p, location=loc, page=page) for p, (loc, page) in zip(passages_of("r.pdf"), places)]
    source = os.fsdecode(b"/docs/caf\xe9/r.pdf")  # a lone surrogate, as os.fsdecode carries a Latin-1 byte
    store.update([], located, vectors, {"r.pdf": {"sha256": "1", "source": source}}, META)
    again = store_at()
    assert [(p.location, p.page) for p in again.passages(again.ids())] == places
    assert [(p.location, p.page) for p in again.in_document("r.pdf")] == places
    best = again.passages(again.dense(vectors[1], 1))[0]
    assert (best.text, best.location, best.page) == (TEXTS[1], "p. 2", 2)
    assert again.document("r.pdf") == {"sha256": "1", "source": source} == again.documents()["r.pdf"]
    assert again.document("nope.pdf") is None


def test_index_runs_on_the_store(store_at, tmp_path, seed_corpus, monkeypatch):
    """The `Index` API end to end on each store: build, search every mode, add, remove, reopen."""
    import index.index as module

    monkeypatch.setattr(module, "open_store", lambda uri, folder: store_at(folder))
    embedder = HashEmbedder()
    index = Index.open(tmp_path / "data", embedder, create=True)
    assert index.sync([seed_corpus]).passages_embedded == 9 and len(index) == 9
    for mode in ("dense", "lexical", "hybrid"):
        hits = index.search("Sergei Lavrov foreign minister colloquially known Doctor", 3, mode)
        assert "Doctor No" in hits[0].text and hits[0].paragraph == 3, mode
    extra = tmp_path / "extra.txt"
    extra.write_text("Quokkas live on Rottnest Island off Perth.")
    index.add([extra])
    assert index.search("quokkas Rottnest", 1, "lexical")[0].doc == "extra.txt"
    assert index.keyword_first("quokkas Rottnest", 1) == ["Quokkas live on Rottnest Island off Perth."]
    third = next(p for p in index.passages if p.paragraph == 3)
    assert [n.paragraph for n in index.neighbours(third)] == [2, 4]
    index.remove(["extra.txt"])
    again = Index.open(tmp_path / "data", embedder)
    assert len(again) == 9 and [d.passages for d in again.documents()] == [9]
    assert again.search("quokkas Rottnest", 1, "lexical") == [] and again.keyword_first("quokkas Rottnest") == []


def test_milvus_update_cut_short_leaves_no_duplicate_rows(tmp_path, monkeypatch):
    """Milvus has no transactions across rows: when an update of a new document stops after its
    rows went in but before its documents row (a crash), the retry must replace those rows, not
    add a second copy."""
    store = open_store(str(tmp_path / "milvus" / "qa.db"), tmp_path / "data")
    try:
        with monkeypatch.context() as patched:
            def crash(*args, **kwargs):
                raise KeyboardInterrupt("killed between the rows and the documents row")

            patched.setattr(store._client, "upsert", crash)
            with pytest.raises(KeyboardInterrupt):
                store.update([], passages_of("a.txt"), unit(4), {"a.txt": {"sha256": "1"}}, META)
        store.close()
        store = open_store(str(tmp_path / "milvus" / "qa.db"), tmp_path / "data")  # the next run
        assert store.documents() == {}  # the document is not known as indexed: it is added anew
        store.update([], passages_of("a.txt"), unit(4), {"a.txt": {"sha256": "1"}}, META)
        assert len(store) == 4 and [p.text for p in store.in_document("a.txt")] == TEXTS
    finally:
        store.close()
