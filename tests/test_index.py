import json
from pathlib import Path

import numpy as np
import pytest

from index import EmbedderMismatch, Index, IndexMissing, Passage
from index.vectors import VectorIndex

from .fakes import HashEmbedder, write_v1_index


def test_vector_index_adds_and_removes_ids_in_both_kinds(monkeypatch):
    import index.vectors as vectors_module

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(100, 500)
    flat = VectorIndex.build(16, ids, vectors)
    assert flat.kind == "flat" and not flat.wants_rebuild()
    monkeypatch.setattr(vectors_module, "EXACT_BELOW", 300)
    assert flat.wants_rebuild()  # grown past the exact threshold
    ivf = VectorIndex.build(16, ids, vectors)
    assert ivf.kind == "ivf" and len(ivf) == 400
    for index in (flat, ivf):
        assert index.search(vectors[7], 1)[1][0] == 107
        index.remove([107])
        assert len(index) == 399 and 107 not in index.search(vectors[7], 5)[1]
        with pytest.raises(ValueError):
            index.add([1], np.zeros((1, 3), dtype=np.float32))
    assert flat.hidden == [] and ivf.hidden == [107]  # the IVF kind hides what it cannot remove
    assert flat.exact_scores and ivf.exact_scores  # float16 refine: the store need not re-rank


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_ivf_search_reranked_is_exact_and_never_returns_removed_ids(monkeypatch):
    import index.vectors as vectors_module

    monkeypatch.setattr(vectors_module, "EXACT_BELOW", 300)
    monkeypatch.setattr(vectors_module, "NPROBE_SHARE", 1.0)  # every list: only quantisation differs
    vectors, queries = unit_rows(1000, 32), unit_rows(40, 32, seed=1)
    ids = np.arange(1, 1001) * 3  # passage ids need not be dense
    ivf = VectorIndex.build(32, ids, vectors)
    assert ivf.kind == "ivf"

    def exact_top(q, live, k=10):
        scores = vectors[live] @ q
        return list(ids[live][np.argsort(-scores)[:k]])

    def ivf_top(q, k=10, candidates=10):  # as the store does: re-ranked by their exact vectors
        found = [int(i) for i in ivf.search(q, candidates)[1] if i >= 0]
        return sorted(found, key=lambda i: -float(vectors[i // 3 - 1] @ q))[:k]

    def check(live):
        # the refine's scores order the shortlist nearly exactly: its best 20 hold the exact best 10
        assert all(ivf_top(q, candidates=20) == exact_top(q, live) for q in queries)
        # and its best 10 (what the store re-ranks for k = 10) all but the odd one at the border
        found = [len(set(ivf_top(q)) & set(exact_top(q, live))) / 10 for q in queries]
        assert np.mean(found) >= 0.95 and all(ivf_top(q)[0] == exact_top(q, live)[0] for q in queries)

    live = np.ones(1000, dtype=bool)
    check(live)
    gone = np.random.default_rng(2).choice(1000, size=80, replace=False)
    ivf.remove(ids[gone])
    ivf.remove(ids[gone[:5]])  # removing again changes nothing
    live[gone] = False
    assert len(ivf) == 920 and ivf.hidden == sorted(ids[gone].tolist()) and not ivf.wants_rebuild()
    check(live)
    assert set(ivf.search(queries[0], 10**6)[1].tolist()) - {-1} == set(ids[live].tolist())
    ivf.remove(ids[live][:30])  # now more than a tenth of the index is hidden: rebuild
    assert ivf.wants_rebuild()


def test_open_without_index(tmp_path, embedder):
    with pytest.raises(IndexMissing, match="qa index"):
        Index.open(tmp_path / "none", embedder)


def test_seed_index_and_search(seed_index):
    assert len(seed_index) == 9
    [doc] = seed_index.documents()
    assert (doc.title, doc.paragraphs) == ("Putin doesn't want to hear about European soldiers in Ukraine", 9)
    hits = seed_index.search("Sergei Lavrov foreign minister colloquially known Doctor", k=3)
    assert len(hits) == 3 and isinstance(hits[0], Passage)
    assert "Doctor No" in hits[0].text and hits[0].paragraph == 3
    assert hits[0].ref == "russia-rejects-european-troops-in-ukraine.txt ¶3"
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert seed_index.search("", k=3) == [] and seed_index.search("Lavrov", k=0) == []


def test_reopen_gives_same_passages(seed_index, embedder):
    again = Index.open(seed_index.data_dir, embedder)
    assert again.passages == seed_index.passages
    assert [p.text for p in again.search("Sevastopol navy", 2)] == [p.text for p in seed_index.search("Sevastopol navy", 2)]


def test_incremental_update(tmp_path, embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Apples grow on trees in the orchard.\n\nPears too.")
    (corpus / "b.md").write_text("# Boats\n\nBoats float on the harbour water.")
    index = Index.open(tmp_path / "d", embedder, create=True)
    first = index.sync([corpus])
    assert sorted(first.added) == ["a.txt", "b.md"] and first.passages_embedded == 3

    embedder.embedded.clear()
    report = index.sync([corpus])
    assert report.unchanged == ["a.txt", "b.md"] and not report.changed and embedder.embedded == []

    (corpus / "a.txt").write_text("Apples are red.\n\nPlums are purple.")
    (corpus / "b.md").unlink()
    (corpus / "c.txt").write_text("Cats sleep all day.")
    report = Index.open(tmp_path / "d", embedder).sync([corpus])
    assert (report.updated, report.removed, report.added) == (["a.txt"], ["b.md"], ["c.txt"])
    assert sorted(embedder.embedded) == ["Apples are red.", "Cats sleep all day.", "Plums are purple."]

    reopened = Index.open(tmp_path / "d", embedder)
    assert sorted(p.text for p in reopened.passages) == ["Apples are red.", "Cats sleep all day.", "Plums are purple."]
    assert reopened.search("harbour boats", 5)[0].doc != "b.md"
    files = {f.name for f in (tmp_path / "d").iterdir()}
    assert files <= {"passages.sqlite", "passages.sqlite-wal", "passages.sqlite-shm"}  # one store, no leftovers


def test_bad_files_are_skipped_and_the_rest_indexed(tmp_path, embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Good text about harbours.")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    index = Index.open(tmp_path / "d", embedder, create=True)
    report = index.sync([corpus])
    assert report.added == ["good.txt"]
    reasons = dict((p.rsplit("/", 1)[-1], r) for p, r in report.skipped)
    assert set(reasons) == {"empty.txt", "binary.txt", "photo.jpg"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]


def test_embedder_mismatch_is_refused(seed_index):
    other = HashEmbedder(dim=64, name="another/model")
    with pytest.raises(EmbedderMismatch, match="another/model"):
        Index.open(seed_index.data_dir, other)


def test_identical_paragraphs_stored_once_and_long_ones_split(tmp_path):
    embedder = HashEmbedder(max_tokens=12)
    corpus = tmp_path / "c"
    corpus.mkdir()
    long = " ".join(f"Sentence number {i} is here." for i in range(6))
    (corpus / "a.txt").write_text(f"Same words again.\n\nSame words again.\n\n{long}\n\nEnd.")
    index = Index.open(tmp_path / "d", embedder, create=True)
    index.sync([corpus])
    paragraphs = [(p.paragraph, p.part) for p in index.passages]
    assert paragraphs[0] == (1, 0) and (2, 0) not in paragraphs  # the duplicate is not stored
    parts = [p for p in index.passages if p.paragraph == 3]
    assert len(parts) > 1 and [p.part for p in parts] == list(range(1, len(parts) + 1))
    assert all(embedder.count_tokens(p.text) <= 12 for p in parts)
    assert " ".join(p.text for p in parts) == long
    assert index.passages[-1].paragraph == 4


def test_add_and_remove_single_documents(seed_index, tmp_path):
    extra = tmp_path / "extra.txt"
    extra.write_text("The lighthouse keeper counted ships every night.")
    report = seed_index.add([extra])
    assert report.added == ["extra.txt"]
    assert seed_index.search("lighthouse keeper ships", 1)[0].doc == "extra.txt"
    seed_index.remove(["extra.txt"])
    assert {p.doc for p in seed_index.passages} == {"russia-rejects-european-troops-in-ukraine.txt"}
    with pytest.raises(KeyError):
        seed_index.remove(["nope.txt"])


def test_crash_during_an_update_keeps_the_old_index(seed_index, tmp_path, embedder, monkeypatch):
    import index.store as module

    def boom(passage):
        raise OSError("disk full")

    extra = tmp_path / "extra.txt"
    extra.write_text("Completely new content about volcanoes.")
    monkeypatch.setattr(module, "record", boom)  # fails half-way through the update's transaction
    with pytest.raises(OSError):
        seed_index.add([extra])
    monkeypatch.undo()
    for index in (seed_index, Index.open(seed_index.data_dir, embedder)):
        assert len(index) == 9 and {p.doc for p in index.passages} == {"russia-rejects-european-troops-in-ukraine.txt"}
        assert [d.doc for d in index.documents()] == ["russia-rejects-european-troops-in-ukraine.txt"]


KILLED_WRITER = """
import sys, time
import json
from pathlib import Path
sys.path[:0] = [sys.argv[1]]
from index import Index
from index.store import LocalStore
from tests.fakes import HashEmbedder
LocalStore.SNAPSHOT_EVERY = 50  # so that FAISS snapshots are written (and killed) too
import index.vectors
index.vectors.EXACT_BELOW = int(sys.argv[4])  # 100: the IVF kind, hidden ids and rebuilds
index = Index.open(Path(sys.argv[2]), HashEmbedder())
folder = Path(sys.argv[3])
for n in range(10_000):
    f = folder / f"doc{n % 7}.txt"
    f.write_text("\\n\\n".join(f"Paragraph {i} of round {n} about ships and harbours." for i in range(40)))
    index.add([f])
    print(n, flush=True)
"""


@pytest.mark.parametrize("exact_below", [50_000, 100])
def test_kill_9_during_updates_leaves_a_loadable_index(seed_index, tmp_path, embedder, exact_below, monkeypatch):
    import signal
    import subprocess
    import sys
    import time

    import index.vectors as vectors_module

    monkeypatch.setattr(vectors_module, "EXACT_BELOW", exact_below)
    root = Path(__file__).resolve().parent.parent
    folder = tmp_path / "incoming"
    folder.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(root), str(seed_index.data_dir), str(folder),
                               str(exact_below)], stdout=subprocess.PIPE, text=True)
    for _ in range(12):  # let it commit a dozen updates, then kill it mid-way through another
        writer.stdout.readline()
    time.sleep(0.05)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    reopened = Index.open(seed_index.data_dir, embedder)
    docs = {d.doc: d for d in reopened.documents()}
    assert "doc0.txt" in docs and len(reopened) == 9 + 40 * (len(docs) - 1)
    assert sorted({p.doc for p in reopened.passages}) == sorted(docs)
    assert reopened.search("ships and harbours", 3, "hybrid")[0].doc.startswith("doc")
    assert len(reopened.store.dense(embedder.embed(["ships harbours"])[0], 10**6)) == len(reopened)
    assert reopened.store._vectors.kind == ("ivf" if exact_below == 100 else "flat")


def test_sync_of_a_folder_keeps_documents_from_elsewhere(seed_index, seed_corpus, tmp_path):
    upload = tmp_path / "mine.md"
    upload.write_text("# Notes\n\nThe lighthouse keeper counted ships.")
    assert seed_index.add([upload], prefix="uploads/").added == ["uploads/mine.md"]
    report = seed_index.sync([seed_corpus])
    assert report.removed == [] and "uploads/mine.md" in {d.doc for d in seed_index.documents()}
    (seed_corpus / "russia-rejects-european-troops-in-ukraine.txt").unlink()
    report = seed_index.sync([seed_corpus])
    assert report.removed == ["russia-rejects-european-troops-in-ukraine.txt"]
    assert [d.doc for d in seed_index.documents()] == ["uploads/mine.md"]


def test_neighbours(seed_index):
    third = next(p for p in seed_index.passages if p.paragraph == 3)
    before, after = seed_index.neighbours(third)
    assert (before.paragraph, after.paragraph) == (2, 4)
    first = next(p for p in seed_index.passages if p.paragraph == 1)
    assert seed_index.neighbours(first)[0] is None


class BlindEmbedder(HashEmbedder):
    """Gives every text the same vector: dense search cannot tell passages apart."""

    name = "fake/blind"

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def test_search_modes_lexical_finds_exact_names(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    filler = [f"Paragraph number {i} talks about weather and markets in general terms." for i in range(12)]
    (corpus / "a.txt").write_text("\n\n".join(filler + ["The Vostok-7 probe landed on 14 March 2021."]))
    index = Index.open(tmp_path / "idx", BlindEmbedder(), create=True)
    index.sync([corpus])
    question = "When did Vostok-7 land?"
    assert "Vostok-7" in index.search(question, 1, "lexical")[0].text
    assert "Vostok-7" in index.search(question, 2, "hybrid")[0].text  # fused: the only BM25 match leads
    assert all(p.score == pytest.approx(1.0) for p in index.search(question, 3, "hybrid"))  # cosine, every mode
    assert index.search("zzz unknownword", 3, "lexical") == []
    with pytest.raises(ValueError, match="unknown search mode"):
        index.search(question, 1, "fuzzy")


def test_lexical_index_follows_updates(seed_index, tmp_path):
    extra = tmp_path / "extra.txt"
    extra.write_text("Quokkas live on Rottnest Island off Perth.")
    assert seed_index.search("quokkas Rottnest", 1, "lexical") == []
    seed_index.add([extra])
    assert seed_index.search("quokkas Rottnest", 1, "lexical")[0].doc == "extra.txt"
    seed_index.remove(["extra.txt"])
    assert seed_index.search("quokkas Rottnest", 1, "lexical") == []


def test_an_index_in_the_old_format_is_moved_into_the_store_once(tmp_path, embedder, capsys):
    old = tmp_path / "old"
    old.mkdir()
    passages = [Passage("a.txt", "A", 1, "Apples grow on trees."), Passage("a.txt", "A", 2, "Pears too."),
                Passage("b.md", "Boats", 1, "Boats float on the harbour water.", 0.0, 7, 40)]
    documents = {"a.txt": {"sha256": "1", "title": "A", "source": "/x/a.txt"},
                 "b.md": {"sha256": "2", "title": "Boats", "source": "/x/b.md"}}
    write_v1_index(old, passages, embedder.embed([p.text for p in passages]), documents, embedder)
    embedder.embedded.clear()
    index = Index.open(old, embedder)
    assert "new store format" in capsys.readouterr().err
    assert index.passages == passages and embedder.embedded == []  # kept, not embedded again
    assert [(d.doc, d.paragraphs, d.passages) for d in index.documents()] == [("a.txt", 2, 2), ("b.md", 1, 1)]
    assert index.search("harbour boats", 1)[0].doc == "b.md"
    assert {f.name for f in old.iterdir()} <= {"passages.sqlite", "passages.sqlite-wal", "passages.sqlite-shm"}
    assert Index.open(old, embedder).passages == passages and capsys.readouterr().err == ""


def test_keyword_terms_are_made_as_bm25s_makes_them():
    import bm25s
    from bm25s.stopwords import STOPWORDS_EN

    from index.lexical import STOPWORDS_EN as ours, _stemmer, terms

    assert ours == frozenset(STOPWORDS_EN)
    text = "The Ships were sailing into Sevastopol's harbour, as 14 sailors said: it is NOT over."
    assert terms(text) == bm25s.tokenize([text], stopwords="en", stemmer=_stemmer(), return_ids=False,
                                         show_progress=False)[0]


def test_the_ivf_store_keeps_removed_passages_hidden_across_snapshots_and_reopening(tmp_path, embedder, monkeypatch):
    import index.vectors as vectors_module
    from index.store import LocalStore

    monkeypatch.setattr(vectors_module, "EXACT_BELOW", 100)
    monkeypatch.setattr(vectors_module, "NPROBE_SHARE", 1.0)
    monkeypatch.setattr(vectors_module, "HIDDEN_SHARE", 0.9)  # no rebuild yet: hide, snapshot, reopen
    monkeypatch.setattr(LocalStore, "SNAPSHOT_EVERY", 1)
    corpus = tmp_path / "c"
    corpus.mkdir()
    for name, topic in (("a.txt", "apples orchards"), ("b.txt", "boats harbours"), ("c.txt", "comets telescopes")):
        (corpus / name).write_text("\n\n".join(f"Note {i} on {topic} number{i}{name[0]}." for i in range(60)))
    index = Index.open(tmp_path / "d", embedder, create=True)
    index.add([corpus / "a.txt", corpus / "b.txt"])
    store = index.store
    assert store._vectors.kind == "ivf" and len(index) == 120
    index.remove(["b.txt"])  # hidden in FAISS, and the snapshot written now still holds the rows
    snapshot = store._get("vectors")
    assert snapshot["hidden"] == 60 and len(store._vectors.hidden) == 60 and len(index) == 60
    monkeypatch.setattr(LocalStore, "SNAPSHOT_EVERY", 61)  # 60 new rows: the snapshot's own 60
    index.add([corpus / "c.txt"])  # tombstones do not count, so no new one; replayed on opening
    assert store._get("vectors") == snapshot

    def check(ix):
        alive = set(ix.store.ids())
        assert len(ix) == len(alive) == 120 and {p.doc for p in ix.passages} == {"a.txt", "c.txt"}
        assert set(ix.store.dense(embedder.embed(["boats harbours"])[0], 10**6)) == alive
        assert all(p.doc != "b.txt" for p in ix.search("boats harbours note", 10, "dense"))

    check(index)
    reopened = Index.open(tmp_path / "d", embedder)
    assert reopened.store._vectors.hidden == store._vectors.hidden
    check(reopened)
    monkeypatch.setattr(vectors_module, "HIDDEN_SHARE", 0.1)
    reopened.remove(["a.txt"])  # past the share of hidden ids: rebuilt, nothing hidden, snapshot
    assert reopened.store._vectors.hidden == [] and reopened.store._get("vectors")["hidden"] == 0
    assert Index.open(tmp_path / "d", embedder).store._vectors.hidden == []
    assert {p.doc for p in Index.open(tmp_path / "d", embedder).passages} == {"c.txt"}


def test_search_reads_passages_lazily_and_gives_what_reading_them_all_gives(tmp_path, embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    shared = [f"Harbour report {i}: ships and boats in the harbour today." for i in range(6)]
    for name in ("a.txt", "b.txt", "c.txt"):  # the same paragraphs in three documents: duplicates
        (corpus / name).write_text("\n\n".join(shared + [f"Only in {name}: harbour cranes {name[0]}."]))
    index = Index.open(tmp_path / "d", embedder, create=True)
    index.sync([corpus])
    reads = []
    real = index.store.passages
    index.store.passages = lambda ids: reads.append(list(ids)) or real(ids)
    query = embedder.embed(["ships boats harbour report"])[0]
    counts = []
    for mode in ("dense", "hybrid", "lexical"):
        for k in (1, 3, 8):
            reads.clear()
            found = index.search("ships boats harbour report", k, mode)
            ids = {"dense": index.store.dense(query, 50), "lexical": index.store.lexical("ships boats harbour report", 50),
                   "hybrid": index.store.hybrid(query, "ships boats harbour report", 50)}[mode]
            expected, seen = [], set()  # every candidate read, then the first k distinct texts
            for p in real(ids):
                if p.text not in seen and len(expected) < k:
                    seen.add(p.text)
                    expected.append(p)
            assert [(p.doc, p.paragraph) for p in found] == [(p.doc, p.paragraph) for p in expected]
            assert reads[0] == ids[:k] and sum(map(len, reads)) <= len(ids)
            assert len(reads) == (1 if len({p.text for p in real(ids[:k])}) == k else 2)
            counts.append(len(reads))
    assert set(counts) == {1, 2}  # duplicates among the first k made the rest be read, and only then


def test_an_ivf_sq8_index_of_the_earlier_kind_still_searches_and_asks_to_be_rebuilt(tmp_path):
    import faiss

    vectors = unit_rows(400, 16)
    ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(16), 16, 8, faiss.ScalarQuantizer.QT_8bit,
                                        faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    ivf.add_with_ids(vectors, np.arange(1, 401))
    faiss.write_index(ivf, str(tmp_path / "old.faiss"))  # a snapshot written before this kind
    old = VectorIndex.load(tmp_path / "old.faiss")
    assert old.kind == "ivf" and old.wants_rebuild()  # the next update rebuilds it as fast scan
    assert not old.exact_scores  # 8-bit scores: the store re-ranks by the exact vectors meanwhile
    assert old.search(vectors[4], 1)[1][0] == 5
    old.remove([5])
    assert len(old) == 399 and old.hidden == [] and 5 not in old.search(vectors[4], 5)[1]
