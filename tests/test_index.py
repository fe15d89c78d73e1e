import json

import numpy as np
import pytest

from index import EmbedderMismatch, Index, IndexMissing, Passage
from index.store import FaissStore

from .fakes import HashEmbedder


def test_store_contract(tmp_path):
    store = FaissStore(4)
    vectors = np.eye(4, dtype=np.float32)
    store.add(vectors)
    scores, rows = store.search(vectors[2], 2)
    assert rows[0][0] == 2 and scores[0][0] == pytest.approx(1.0)
    store.save(tmp_path / "v.faiss")
    loaded = FaissStore.load(tmp_path / "v.faiss")
    assert len(loaded) == 4 and loaded.dim == 4
    assert np.allclose(loaded.vectors([3, 0]), vectors[[3, 0]])
    kept = loaded.take([3, 1])
    assert kept.search(vectors[1], 1)[1][0][0] == 1
    with pytest.raises(ValueError):
        store.add(np.zeros((1, 3), dtype=np.float32))
    assert FaissStore(4).search(vectors[0], 3)[1].shape == (1, 0)


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
    files = sorted(f.name for f in (tmp_path / "d").iterdir())
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert files == sorted(["manifest.json", manifest["vectors"], manifest["passages"]])  # old generations gone


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


def test_crash_before_manifest_keeps_old_index(seed_index, tmp_path, embedder, monkeypatch):
    import index.index as module

    def boom(*args, **kwargs):
        raise OSError("disk full")

    extra = tmp_path / "extra.txt"
    extra.write_text("Completely new content about volcanoes.")
    monkeypatch.setattr(module, "write_atomic", boom)
    with pytest.raises(OSError):
        seed_index.add([extra])
    monkeypatch.undo()
    reopened = Index.open(seed_index.data_dir, embedder)
    assert len(reopened) == 9 and {p.doc for p in reopened.passages} == {"russia-rejects-european-troops-in-ukraine.txt"}


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
