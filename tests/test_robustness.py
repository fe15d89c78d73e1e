"""What a hostile or unlucky user can type or point at (issue 14): bad bytes in questions and file
names, folders that vanish, symlink loops, a data folder that is a file, durable saves."""
import json
import os
import sqlite3
from pathlib import Path

import pytest

from index import DataDirUnusable, Index, SourceMissing
from qa import Assistant
from ui.cli import main

from .fakes import HashEmbedder

BAD_QUESTION = os.fsdecode(b'Who is the foreign minister \xff\xfe known as "Doctor No"?')  # as sys.argv carries it
LATIN1_NAME = os.fsdecode(b"caf\xe9.txt")  # a name written by an old Latin-1 system


def corpus_with(tmp_path, files: dict[str, str]) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def stored(data_dir: Path) -> dict:
    """The documents table of the local store, its bytes decoded as UTF-8 (which fails on a lone
    surrogate written raw); the passages' records are decoded too."""
    db = sqlite3.connect(data_dir / "passages.sqlite")
    db.text_factory = bytes
    try:
        for doc, record in db.execute("SELECT doc, record FROM passages"):
            doc.decode("utf-8"), record.decode("utf-8")
        return {doc.decode("utf-8"): json.loads(info.decode("utf-8"))
                for doc, info in db.execute("SELECT doc, info FROM documents")}
    finally:
        db.close()


# -- questions that are not valid UTF-8 ----------------------------------------------------------
def test_a_question_with_undecodable_bytes_is_searched_and_answered(seed_index, settings, generator):
    hits = seed_index.search(BAD_QUESTION, 3)  # the fake embedder refuses lone surrogates, as tokenizers do
    assert any("Doctor No" in p.text for p in hits)
    generator.reply = "Sergei Lavrov is colloquially known as Doctor No [1]."
    answer = Assistant(settings, seed_index, generator).ask(BAD_QUESTION, history=[os.fsdecode(b"\xff earlier")])
    assert "Lavrov" in answer.text
    assert answer.question == 'Who is the foreign minister \ufffd\ufffd known as "Doctor No"?'
    json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")  # printable, as `qa ask --json` does


def test_the_chat_takes_a_question_with_lone_surrogates(settings, seed_index, generator):
    from ui.app import ChatApp

    generator.reply = "Sergei Lavrov is colloquially known as Doctor No [1]."
    chats = [c for c, _ in ChatApp(settings, seed_index, generator).respond(BAD_QUESTION, [], 3, "default")]
    assert "Lavrov" in chats[-1][-1]["content"]
    json.dumps(chats[-1]).encode("utf-8")  # what Gradio sends to the browser


# -- file names that are not valid UTF-8 ----------------------------------------------------------
def test_a_file_name_that_is_not_utf8_is_indexed_and_updated(tmp_path, embedder):
    folder = corpus_with(tmp_path, {"ok.txt": "Harbours hold boats.", LATIN1_NAME: "Coffee is sold in the square."})
    index = Index.open(tmp_path / "d", embedder, create=True)
    report = index.sync([folder])
    assert sorted(report.added) == ["caf\\xe9.txt", "ok.txt"] and not report.skipped
    assert index.search("coffee square", 1)[0].doc == "caf\\xe9.txt"  # a name any screen can show
    # the store holds valid UTF-8 (`stored` decodes its bytes) and the exact path
    assert stored(tmp_path / "d")["caf\\xe9.txt"]["source"] == str(folder / LATIN1_NAME)

    again = Index.open(tmp_path / "d", embedder)  # later updates work on such an index
    assert sorted(again.sync([folder]).unchanged) == ["caf\\xe9.txt", "ok.txt"]
    (folder / LATIN1_NAME).write_text("Tea is sold in the square.")
    assert again.sync([folder]).updated == ["caf\\xe9.txt"]
    (folder / LATIN1_NAME).unlink()
    assert again.sync([folder]).removed == ["caf\\xe9.txt"]


def test_cli_prints_undecodable_names(tmp_path, capsys):
    folder = corpus_with(tmp_path, {os.fsdecode(b"notes\xff.xyz"): "x"})
    assert main(["index", str(folder), "--data-dir", str(tmp_path / "d")]) == 1  # nothing indexable
    err = capsys.readouterr().err
    assert "notes\\xff.xyz: unsupported file type" in err and "nothing was indexed" in err


# -- paths that vanished --------------------------------------------------------------------------
def test_a_missing_folder_is_refused_and_its_documents_kept(seed_index, seed_corpus, embedder):
    before = stored(seed_index.data_dir)
    moved = seed_corpus.rename(seed_corpus.with_name("unmounted"))
    with pytest.raises(SourceMissing, match="no such file or folder .* the 1 documents indexed from there are kept"):
        seed_index.sync([seed_corpus])
    assert stored(seed_index.data_dir) == before and len(Index.open(seed_index.data_dir, embedder)) == 9
    report = seed_index.sync([seed_corpus], prune=True)  # told to: the documents go
    assert report.removed == ["russia-rejects-european-troops-in-ukraine.txt"] and moved.exists()
    assert stored(seed_index.data_dir) == {}


def test_cli_refuses_a_missing_path_and_writes_no_index(tmp_path, capsys):
    assert main(["index", str(tmp_path / "nothere"), "--data-dir", str(tmp_path / "new")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothere: no such file or folder — nothing was indexed" in err
    assert not (tmp_path / "new").exists()


def test_an_empty_folder_into_a_new_data_dir_indexes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["index", str(tmp_path / "empty"), "--data-dir", str(tmp_path / "new")]) == 1
    assert "nothing was indexed" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


# -- symbolic links -------------------------------------------------------------------------------
def test_a_symlink_loop_given_as_a_path_is_one_line(tmp_path, embedder, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(SourceMissing, match="loop: symlink loop"):
        Index.open(tmp_path / "d", embedder, create=True).sync([loop])
    assert main(["index", str(loop), "--data-dir", str(tmp_path / "d")]) == 1
    assert "symlink loop" in capsys.readouterr().err


def test_symlinks_inside_a_folder(tmp_path, embedder):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("Private notes about the budget.")
    folder = corpus_with(tmp_path, {"a.txt": "Apples grow in the orchard."})
    (folder / "self.txt").symlink_to(folder / "self.txt")  # points to itself
    (folder / "again").symlink_to(folder)  # leads back to the folder
    (folder / "same.txt").symlink_to(folder / "a.txt")  # inside: followed
    (folder / "out.txt").symlink_to(outside / "secret.txt")  # outside: not followed by default
    (folder / "outdir").symlink_to(outside)
    index = Index.open(tmp_path / "d", embedder, create=True)
    report = index.sync([folder])
    assert sorted(report.added) == ["a.txt", "same.txt"]
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert reasons["self.txt"].startswith("symlink loop")
    assert reasons["again"].startswith("symlink loop: leads back to")
    assert "outside the folder: not followed" in reasons["out.txt"]
    assert "outside the folder: not followed" in reasons["outdir"]
    assert not any("budget" in p.text for p in index.passages)

    report = index.sync([folder], follow_links=True)
    assert sorted(report.added) == ["out.txt", "outdir/secret.txt"]
    assert index.search("private budget notes", 1)[0].doc in ("out.txt", "outdir/secret.txt")


# -- the data folder ------------------------------------------------------------------------------
def test_a_data_dir_that_is_a_file_is_refused_before_embedding(tmp_path, seed_corpus, embedder, capsys, monkeypatch):
    import index.embed

    loaded = []
    monkeypatch.setattr(index.embed, "_load", lambda name: loaded.append(name))
    (tmp_path / "afile").write_text("not a folder")
    for data_dir in (tmp_path / "afile", tmp_path / "afile" / "below"):
        with pytest.raises(DataDirUnusable, match="not a folder"):
            Index.open(data_dir, embedder, create=True).sync([seed_corpus])
    assert embedder.embedded == []
    assert main(["index", str(seed_corpus), "--data-dir", str(tmp_path / "afile")]) == 1
    assert "afile is a file, not a folder" in capsys.readouterr().err
    assert loaded == []  # the CLI refused before loading the embedding model


# -- durable saves --------------------------------------------------------------------------------
def test_the_snapshot_reaches_the_disk_before_the_store_names_it(seed_index, tmp_path, monkeypatch):
    from index.store import LocalStore

    events = []
    fsync, replace, name = os.fsync, os.replace, LocalStore._set

    def record_fsync(fd):
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        events.append(("fsync", "<dir>" if target == seed_index.data_dir.resolve() else target.name))
        fsync(fd)

    def record_replace(src, dst):
        events.append(("replace", Path(dst).name))
        replace(src, dst)

    def record_name(store, key, value):
        if key == "vectors":
            events.append(("named", value["file"]))
        name(store, key, value)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "replace", record_replace)
    monkeypatch.setattr(LocalStore, "_set", record_name)
    monkeypatch.setattr(LocalStore, "SNAPSHOT_EVERY", 1)  # this update writes a FAISS snapshot
    extra = tmp_path / "extra.txt"
    extra.write_text("The lighthouse keeper counted ships.")
    seed_index.add([extra])
    snapshot = seed_index.store._get("vectors")["file"]
    renamed = events.index(("replace", snapshot))
    assert events.index(("fsync", snapshot + ".tmp")) < renamed < events.index(("fsync", "<dir>"), renamed)
    assert events.index(("fsync", "<dir>"), renamed) < events.index(("named", snapshot))
    # SQLite's own commits: write-ahead log flushed to the disk on every commit (docs/reliability.md)
    db = seed_index.store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_files_left_by_an_interrupted_snapshot_go_on_the_next_open(seed_index, tmp_path, embedder, monkeypatch):
    from index.store import LocalStore

    monkeypatch.setattr(LocalStore, "SNAPSHOT_EVERY", 1)
    extra = tmp_path / "extra.txt"
    extra.write_text("The lighthouse keeper counted ships.")
    seed_index.add([extra])
    snapshot = seed_index.store._get("vectors")["file"]
    for name in ("vectors-99.faiss", "vectors-98.faiss.tmp"):
        (seed_index.data_dir / name).write_bytes(b"half")
    again = Index.open(seed_index.data_dir, embedder)
    assert len(again) == 10 and again.search("lighthouse keeper", 1)[0].doc == "extra.txt"
    assert sorted(f.name for f in seed_index.data_dir.iterdir() if not f.name.startswith(LocalStore.FILE)) == [snapshot]


SAVER = """
import sys, itertools
from pathlib import Path
from index import Index
from tests.fakes import HashEmbedder
data, scratch = Path(sys.argv[1]), Path(sys.argv[2])
index = Index.open(data, HashEmbedder(), create=True)
for n in itertools.count():  # save after save until killed
    doc = scratch / f"doc{n % 7}.txt"
    doc.write_text("\\n\\n".join(f"Paragraph {i} of save {n} about harbours." for i in range(50)))
    index.add([doc])
    print(n, flush=True)
"""


@pytest.mark.slow  # starts Python processes and kills them mid-save
def test_kill_9_during_saves_leaves_a_loadable_index(tmp_path, embedder):
    import random
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    (tmp_path / "scratch").mkdir()
    rng = random.Random(14)
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path / "d"), str(tmp_path / "scratch")],
                                 cwd=root, stdout=subprocess.PIPE, text=True)
        for _ in range(rng.randint(1, 4)):
            child.stdout.readline()  # a few saves done
        os.kill(child.pid, signal.SIGKILL)  # then killed wherever it is
        child.wait()
        index = Index.open(tmp_path / "d", embedder)
        assert len(index) == len(index.store.ids()) > 0
        assert {p.doc for p in index.passages} == set(stored(tmp_path / "d"))


@pytest.mark.slow  # the real embedder and a Gradio server
def test_serve_keeps_the_index_when_the_seed_folder_is_gone(tmp_path, seed_corpus, capsys):
    import socket

    from qa import Settings
    from ui.app import serve, stop

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings.from_env({}, data_dir=tmp_path / "data", seeds=seed_corpus)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, app = serve(settings, "127.0.0.1", port, block=False)  # builds the index from the seeds
    stop(app.server)
    seed_corpus.rename(tmp_path / "unmounted")
    _, app = serve(settings, "127.0.0.1", port, block=False)
    try:
        assert [d.doc for d in app.index.documents()] == ["russia-rejects-european-troops-in-ukraine.txt"]
        assert "index not updated" in capsys.readouterr().out
    finally:
        stop(app.server)


def test_a_damaged_snapshot_is_rebuilt_from_the_store_not_a_traceback(seed_index, tmp_path, embedder, monkeypatch):
    """The FAISS snapshot is a cache of vectors SQLite also holds: a damaged one is dropped and the
    index opens and searches as before."""
    from index.store import LocalStore

    monkeypatch.setattr(LocalStore, "SNAPSHOT_EVERY", 1)
    extra = tmp_path / "extra.txt"
    extra.write_text("The lighthouse keeper counted ships.")
    seed_index.add([extra])
    snapshot = seed_index.data_dir / seed_index.store._get("vectors")["file"]
    snapshot.write_bytes(b"not a faiss index")
    again = Index.open(seed_index.data_dir, embedder)
    assert len(again) == 10 and again.search("lighthouse keeper", 1)[0].doc == "extra.txt"
    assert not snapshot.exists()


def test_rebuild_repairs_a_damaged_store(tmp_path, seed_corpus, monkeypatch, capsys):
    """`qa index --rebuild` is what the error message of a damaged store advises: it must work
    without opening the damaged store."""
    import qa.assistant
    from ui.cli import main

    from .fakes import HashEmbedder

    monkeypatch.setattr(qa.assistant, "make_embedder", lambda *args, **kwargs: HashEmbedder())
    data = tmp_path / "data"
    data.mkdir()
    (data / "passages.sqlite").write_bytes(b"this is not a database" * 100)
    assert main(["search", "Doctor No", "--data-dir", str(data)]) != 0
    assert "rebuild" in capsys.readouterr().err.lower()
    assert main(["index", str(seed_corpus), "--rebuild", "--data-dir", str(data)]) == 0
    assert main(["search", "Doctor No", "-k", "1", "--data-dir", str(data)]) == 0
    assert "russia-rejects" in capsys.readouterr().out
