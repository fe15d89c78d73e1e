"""The store seam — where passages, their vectors and their keyword index live — and the default
backend, `LocalStore`: SQLite (passages, FTS5 keyword index, document table) beside a FAISS file in
the data folder. `MilvusStore` (index/milvus.py) is the other backend; `open_store` picks one from
the `QA_STORE` setting.

`LocalStore` on disk (nothing pickled):
- `passages.sqlite` (WAL journal, `synchronous=FULL`): every passage with its vector (float32 blob)
  and its full record as JSON (so fields added to `Passage` later — `location`, `page` — pass
  through), an FTS5 table of its BM25 terms, the documents and the index settings; JSON is written
  by `to_json`, so a source path that is not UTF-8 is kept exactly. One transaction per update: a
  crash (even kill -9) leaves the previous update or this one, never half, and a power loss keeps
  every update that was reported done.
- `vectors-N.faiss`: a snapshot of the FAISS index (index/vectors.py) up to passage id `through`,
  written through `index.files.commit` (fsync, rename, fsync the folder) before SQLite names it.
  Opening reads it and replays from SQLite what changed since (passages with a higher id, ids in
  `tombstones`); a new snapshot is written only when that replay has grown large. So adding or
  removing a document writes that document's rows and nothing else of the corpus. The IVF kind
  cannot remove ids, only hide them: its snapshot still holds the ids removed before it was
  written, and those stay in `tombstones` (their count is the snapshot's `hidden`) so that opening
  hides them again.
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np

from .errors import CorruptIndex
from .files import to_json
from .lexical import WEIGHTS, fuse, terms
from .passage import Passage
from .vectors import VectorIndex

FORMAT = 2  # 1 was manifest.json + one flat FAISS file + passages JSONL, all rewritten per update


class Store(Protocol):
    """Everything `Index` asks of a store. Passages get integer ids when added; searches return
    ids, best first. `update` is all-or-nothing where the backend allows it (see each backend).
    `meta` is what `Index` saved with the last update (embedder, chunking), None for a new store;
    `documents` maps each document name to what `Index` saved about it."""

    location: str

    def __len__(self) -> int: ...

    def meta(self) -> dict | None: ...

    def documents(self) -> dict[str, dict]: ...

    def document(self, doc: str) -> dict | None:
        """What `documents` holds for `doc`, None when it is not stored."""

    def update(self, gone: Iterable[str], passages: Sequence[Passage], vectors: np.ndarray,
               documents: dict[str, dict], meta: dict) -> None:
        """Drop the passages and entries of the documents `gone`, add `passages` with `vectors`,
        set the `documents` entries and `meta`."""

    def dense(self, query: np.ndarray, k: int) -> list[int]: ...

    def lexical(self, text: str, k: int) -> list[int]: ...

    def hybrid(self, query: np.ndarray, text: str, k: int) -> list[int]: ...

    def passages(self, ids: Sequence[int]) -> list[Passage]: ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray: ...

    def ids(self) -> list[int]: ...

    def in_document(self, doc: str) -> list[Passage]: ...

    def close(self) -> None: ...

    def clear(self) -> None:
        """Delete everything stored (for a rebuild); the store is empty and usable afterwards."""


def store_kind(uri: str | None) -> str:
    """Which backend a `QA_STORE` value names: empty for the default local store in the data
    folder; `milvus://host:port` (or an http(s) URL) for a Milvus server or cluster; a path ending
    in `.db` for Milvus Lite.

    >>> store_kind(""), store_kind("milvus://db.example:19530"), store_kind("~/qa/milvus.db")
    ('local', 'milvus', 'milvus-lite')
    """
    uri = (uri or "").strip()
    if uri in ("", "local"):
        return "local"
    if uri.startswith(("milvus://", "http://", "https://")):
        return "milvus"
    if uri.endswith(".db"):
        return "milvus-lite"
    raise ValueError(f"unknown store {uri!r}: leave QA_STORE empty for the local store, or give "
                     "milvus://host:19530 or a Milvus Lite file ending in .db")


def open_store(uri: str | None, data_dir: Path) -> Store:
    """The store `uri` names (see `store_kind`)."""
    if store_kind(uri) == "local":
        return LocalStore(data_dir)
    from .milvus import MilvusStore

    return MilvusStore(uri.strip())


def record(passage: Passage) -> str:
    """A passage as stored: every field but the text (stored on its own) and the score."""
    row = passage.to_dict()
    row.pop("text")
    row.pop("score", None)
    return to_json(row)


def from_record(text: str, rec: str) -> Passage:
    return Passage.from_dict({**json.loads(rec), "text": text})


def fts_query(words: Sequence[str], frequency: dict[str, int], budget: int) -> str | None:
    """An FTS5 query matching any of `words` (None when no passage has any): the rarest words
    first, as many as keep the passages to score (the sum of their document frequencies) within
    `budget`, and always the rarest one. FTS5 scores every passage that matches, ≈ 3 µs each
    (measured), so a common word would cost tens of milliseconds at a million passages while
    adding almost nothing to BM25 (its IDF is near zero); below the budget, BM25 is exact.

    >>> fts_query(["who", "land", "vostok"], {"who": 900, "land": 300, "vostok": 2}, 1000)
    '"vostok" OR "land"'
    >>> fts_query(["zzz"], {}, 1000) is None
    True
    """
    known = sorted((w for w in dict.fromkeys(words) if frequency.get(w)), key=lambda w: frequency[w])
    kept, total = [], 0
    for word in known:
        if kept and total + frequency[word] > budget:
            break
        kept.append(word)
        total += frequency[word]
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in kept) or None


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(doc TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS passages(id INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL,
  paragraph INTEGER NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL, record TEXT NOT NULL,
  vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc, paragraph, part);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(words, tokenize='unicode61');
CREATE TABLE IF NOT EXISTS frequency(term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones(id INTEGER PRIMARY KEY);
"""
CHUNK = 500  # ids per SQL `IN (...)`


class LocalStore:
    """The default store: SQLite + FTS5 (BM25) + FAISS in one folder (see the module text)."""

    FILE = "passages.sqlite"
    SNAPSHOT_EVERY = 5000  # changed rows (or 5 % of the corpus, if more) before a new FAISS file
    KEYWORD_BUDGET = 5000  # passages FTS5 may score per query (`fts_query`): ≈ 15-25 ms
    CACHE_KIB = 65536  # SQLite page cache of the connection

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / self.FILE
        self.location = str(self.path)
        self._db: sqlite3.Connection | None = None
        self._vectors: VectorIndex | None = None
        if self.path.exists():
            self._connect()
            self._load_vectors()

    # -- opening ---------------------------------------------------------------------------------
    def _connect(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # with WAL, FULL fsyncs the log on every commit: a reported update survives a power loss
            db.execute("PRAGMA synchronous=FULL")  # (docs/reliability.md: ≈ 4 ms per update)
            # 64 MiB of page cache (default 2): the B-tree's inner pages stay in it, so reading 50
            # random rows takes ≈ 0.4 ms, not 1.0-1.4, at 1M passages (docs/scale.md)
            db.execute(f"PRAGMA cache_size=-{self.CACHE_KIB}")
            db.executescript(SCHEMA)
            found = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if found is None:
                db.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT),))
            elif int(found[0]) != FORMAT:
                raise CorruptIndex(f"{self.path} has format {found[0]}; this version reads {FORMAT}. "
                                   "Rebuild with `qa index --rebuild`.")
        except sqlite3.DatabaseError as exc:
            raise CorruptIndex(f"cannot read {self.path}: {exc}") from exc
        self._db = db

    def _get(self, key: str):
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def _set(self, key: str, value) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, to_json(value)))

    def _load_vectors(self) -> None:
        snapshot = self._get("vectors")
        index, through, removed = None, 0, []
        if snapshot and (self.data_dir / snapshot["file"]).exists():
            try:
                index, through = VectorIndex.load(self.data_dir / snapshot["file"]), snapshot["through"]
            except RuntimeError:  # a damaged snapshot: the vectors are in SQLite too, build from them
                index, through, snapshot = None, 0, None
            else:
                removed = [r[0] for r in self._db.execute("SELECT id FROM tombstones")]
        ids, vectors = self._rows("WHERE id > ?", (through,))
        if index is None:
            self._vectors = VectorIndex.build(vectors.shape[1], ids, vectors) if len(ids) else None
        else:
            index.remove(removed)
            index.add(ids, vectors)
            self._vectors = index
        for path in self.data_dir.glob("vectors-*.faiss*"):
            if not snapshot or path.name != snapshot["file"]:
                path.unlink(missing_ok=True)

    def _rows(self, where: str, args: tuple) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the passages matching `where`, in id order."""
        ids, blobs = [], []
        for pid, blob in self._db.execute(f"SELECT id, vector FROM passages {where} ORDER BY id", args):
            ids.append(pid)
            blobs.append(blob)
        if not blobs:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self._dim()), dtype=np.float32)
        return np.asarray(ids, dtype=np.int64), np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)

    def _dim(self) -> int:
        return int(((self._get("index") or {}).get("embedder") or {}).get("dim") or 0)

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._vectors) if self._vectors is not None else 0

    def meta(self) -> dict | None:
        return self._get("index") if self._db is not None else None

    def documents(self) -> dict[str, dict]:
        if self._db is None:
            return {}
        return {doc: json.loads(info) for doc, info in self._db.execute("SELECT doc, info FROM documents")}

    def document(self, doc: str) -> dict | None:
        row = self._db.execute("SELECT info FROM documents WHERE doc=?", (doc,)).fetchone() if self._db else None
        return json.loads(row[0]) if row else None

    def dense(self, query: np.ndarray, k: int) -> list[int]:
        if self._vectors is None:
            return []
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        _, ids = self._vectors.search(query, k)
        ids = [int(i) for i in ids if i >= 0]
        if not self._vectors.exact_scores:  # 8-bit scores: re-rank by the exact vectors
            exact = self.vectors(ids) @ query
            ids = [ids[i] for i in np.argsort(-exact, kind="stable")[:k]]
        return ids

    def lexical(self, text: str, k: int) -> list[int]:
        words = list(dict.fromkeys(terms(text)))
        if self._db is None or not words:
            return []
        frequency = dict(self._db.execute(
            f"SELECT term, n FROM frequency WHERE term IN ({','.join('?' * len(words))})", words))
        query = fts_query(words, frequency, self.KEYWORD_BUDGET)
        if query is None:
            return []
        return [r[0] for r in self._db.execute(
            "SELECT rowid FROM terms WHERE terms MATCH ? ORDER BY rank LIMIT ?", (query, k))]

    def hybrid(self, query: np.ndarray, text: str, k: int) -> list[int]:
        return fuse([self.dense(query, k), self.lexical(text, k)], WEIGHTS)

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        found = {}
        for part in _chunks(ids):
            for pid, text, rec in self._db.execute(
                    f"SELECT id, text, record FROM passages WHERE id IN ({','.join('?' * len(part))})", part):
                found[pid] = from_record(text, rec)
        return [found[i] for i in ids if i in found]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        found = {}
        for part in _chunks(ids):
            for pid, blob in self._db.execute(
                    f"SELECT id, vector FROM passages WHERE id IN ({','.join('?' * len(part))})", part):
                found[pid] = np.frombuffer(blob, dtype=np.float32)
        if not ids:
            return np.zeros((0, self._dim()), dtype=np.float32)
        return np.vstack([found[i] for i in ids])

    def ids(self) -> list[int]:
        return [r[0] for r in self._db.execute("SELECT id FROM passages ORDER BY id")] if self._db else []

    def in_document(self, doc: str) -> list[Passage]:
        if self._db is None:
            return []
        return [from_record(text, rec) for text, rec in self._db.execute(
            "SELECT text, record FROM passages WHERE doc=? ORDER BY paragraph, part", (doc,))]

    # -- writing ---------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def update(self, gone: Iterable[str], passages: Sequence[Passage], vectors: np.ndarray,
               documents: dict[str, dict], meta: dict) -> None:
        if self._db is None:
            self._connect()
        gone = list(gone)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._transaction():
            dropped, counted = [], Counter()
            for d in _chunks(gone):
                for pid, words in self._db.execute(
                        "SELECT rowid, words FROM terms WHERE rowid IN "
                        f"(SELECT id FROM passages WHERE doc IN ({','.join('?' * len(d))}))", d):
                    dropped.append(pid)
                    counted.subtract(set(words.split()))
            for part in _chunks(dropped):
                marks = ",".join("?" * len(part))
                self._db.execute(f"DELETE FROM passages WHERE id IN ({marks})", part)
                self._db.execute(f"DELETE FROM terms WHERE rowid IN ({marks})", part)
            through = (self._get("vectors") or {}).get("through", 0)
            self._db.executemany("INSERT OR IGNORE INTO tombstones VALUES (?)", [(i,) for i in dropped if i <= through])
            self._db.executemany("DELETE FROM documents WHERE doc=?", [(d,) for d in gone])
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='passages'").fetchone()
            first = (row[0] if row else 0) + 1
            ids = np.arange(first, first + len(passages), dtype=np.int64)
            self._db.executemany(
                "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((int(i), p.doc, p.paragraph, p.part, p.text, record(p), v.tobytes())
                 for i, p, v in zip(ids, passages, vectors)))
            words = [terms(p.text) for p in passages]
            for w in words:
                counted.update(set(w))
            self._db.executemany("INSERT INTO terms(rowid, words) VALUES (?, ?)",
                                 ((int(i), " ".join(w)) for i, w in zip(ids, words)))
            self._db.executemany("INSERT INTO frequency VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET n = n + excluded.n",
                                 [(t, n) for t, n in counted.items() if n])
            self._db.executemany("DELETE FROM frequency WHERE term=? AND n <= 0",
                                 [(t,) for t, n in counted.items() if n < 0])
            self._db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?)",
                                 [(d, to_json(info)) for d, info in documents.items()])
            self._set("index", meta)
        self._apply_vectors(dropped, ids, vectors, through)

    def _apply_vectors(self, dropped: list[int], ids: np.ndarray, vectors: np.ndarray, through: int) -> None:
        """Bring the FAISS index in memory up to the committed rows; write a snapshot when the
        replay since the last one has grown large, or when the index changed kind."""
        if self._vectors is None:
            if not len(ids):
                return
            self._vectors = VectorIndex.build(vectors.shape[1], ids, vectors)
        else:
            self._vectors.remove(dropped)
            self._vectors.add(ids, vectors)
        if self._vectors.wants_rebuild():
            all_ids, all_vectors = self._rows("", ())
            self._vectors = VectorIndex.build(all_vectors.shape[1], all_ids, all_vectors)
            self._snapshot()
            return
        changed = self._db.execute("SELECT count(*) FROM passages WHERE id > ?", (through,)).fetchone()[0]
        changed += self._db.execute("SELECT count(*) FROM tombstones").fetchone()[0]
        changed -= (self._get("vectors") or {}).get("hidden", 0)  # tombstones the snapshot holds
        if changed >= max(self.SNAPSHOT_EVERY, len(self._vectors) // 20):
            self._snapshot()

    def _snapshot(self) -> None:
        """Write the FAISS index in memory (which matches the committed rows) to a new file, then
        name it in SQLite; the previous file is deleted once it is no longer named."""
        previous = self._get("vectors") or {"generation": 0}
        name = f"vectors-{previous['generation'] + 1}.faiss"
        self._vectors.save(self.data_dir / name)
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='passages'").fetchone()
        hidden = self._vectors.hidden  # removed ids the file still holds (IVF kind): tombstones
        with self._transaction():
            self._set("vectors", {"file": name, "through": row[0] if row else 0, "hidden": len(hidden),
                                  "generation": previous["generation"] + 1, "kind": self._vectors.kind})
            self._db.execute("DELETE FROM tombstones")
            self._db.executemany("INSERT INTO tombstones VALUES (?)", [(i,) for i in hidden])
        if previous.get("file"):
            (self.data_dir / previous["file"]).unlink(missing_ok=True)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def clear(self) -> None:
        self.close()
        self._vectors = None
        for path in [*self.data_dir.glob(self.FILE + "*"), *self.data_dir.glob("vectors-*.faiss*")]:
            path.unlink(missing_ok=True)


def _chunks(items: Sequence, size: int = CHUNK):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]
