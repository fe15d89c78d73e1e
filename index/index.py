"""`Index`: documents in, passages out — chunking, embedding and search over a `Store` (index/store.py)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .build import CHUNKERS, CHUNKING, Source, collect, file_hash, real, root_problem, shown
from .clean import valid_text
from .embed import Embedder, make_embedder
from .errors import EmbedderMismatch, IndexMissing, SourceMissing, UnreadableDocument
from .files import check_data_dir, default_data_dir, read_v1, remove_v1
from .lexical import MODES
from .passage import Passage
from .readers import Limits, read_sections
from .store import LocalStore, Store, open_store


QUERIES_KEPT = 8  # question vectors `Index.query_vector` keeps


@dataclass
class UpdateReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    passages_embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
                f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
                f"{self.passages_embedded} passages embedded in {self.seconds:.1f} s")


@dataclass(frozen=True)
class DocumentInfo:
    doc: str
    title: str
    paragraphs: int
    passages: int
    sha256: str


class Index:
    """Search paragraphs of a corpus. `Index.open().search("question", k=5)` → `list[Passage]`."""

    limits: Limits = Limits()  # what one file may cost to read (size, unpacked size, pages, rows)

    def __init__(self, data_dir: Path, embedder: Embedder, store: Store, manifest: dict):
        self.data_dir = Path(data_dir)
        self.embedder = embedder
        self.store = store
        self.manifest = manifest  # what the last update saved: embedder and chunking
        self._lock = threading.RLock()  # updates and searches take turns on the store
        self._queries: dict[str, np.ndarray] = {}  # the last questions' vectors (see `query_vector`)
        self._queries_lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path | str | None = None, embedder: Embedder | None = None,
             create: bool = False, chunking: str = CHUNKING, store: str | None = None,
             limits: Limits | None = None) -> "Index":
        """Open the index in `data_dir` (default `.qa`, or `$QA_DATA_DIR`), kept in the store that
        `store` names (index/store.py `open_store`: empty for the local default, or Milvus).

        Raises `IndexMissing` when there is none (unless `create`), and `EmbedderMismatch` when it
        was built with another embedder than `embedder`. An index in the old format (manifest.json)
        is moved into the local store once, without embedding again. `limits` bound what one file
        may cost.
        """
        index = cls._open(data_dir, embedder, create, chunking, store)
        if limits is not None:
            index.limits = limits
        return index

    @classmethod
    def _open(cls, data_dir, embedder, create, chunking, store) -> "Index":
        data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        embedder = embedder or make_embedder()
        backend = open_store(store, data_dir)
        if isinstance(backend, LocalStore):
            _migrate_v1(data_dir, backend)
        manifest = backend.meta()
        if manifest is None:
            if not create:
                backend.close()
                raise IndexMissing(f"no index in {backend.location} yet: build one with `qa index [PATH ...]`")
            manifest = {"chunking": chunking, "embedder": {"name": embedder.name}}
            return cls(data_dir, embedder, backend, manifest)
        built_with = manifest["embedder"]["name"]
        if built_with != embedder.name:
            backend.close()
            raise EmbedderMismatch(
                f"the index in {backend.location} was built with the embedder {built_with!r} "
                f"({manifest['embedder'].get('dim', '?')}-d), not {embedder.name!r}: "
                "rebuild it with `qa index --rebuild` or choose the same embedder and backend "
                "(QA_EMBEDDER, QA_EMBED_BACKEND)")
        return cls(data_dir, embedder, backend, manifest)

    def close(self) -> None:
        with self._lock:
            self.store.close()

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.store)

    @property
    def passages(self) -> list[Passage]:
        """Every passage, in the order they were added. Reads the whole store: for small corpora
        and tests; searching and listing documents do not need it."""
        with self._lock:
            return self.store.passages(self.store.ids())

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """The `k` passages that best match `question`, best first. Passages with identical text
        (from different documents) are returned once.

        `mode`: "dense" ranks by embedding similarity, "lexical" by BM25 keyword match, "hybrid"
        (the default) fuses both rankings (reciprocal rank fusion). Whatever the mode, each
        passage's `score` is its cosine similarity to the question, so a floor means the same
        thing in every mode.
        """
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        question = valid_text(question)
        if not question.strip() or k <= 0:
            return []
        query = self.query_vector(question)
        with self._lock:
            store = self.store
            if not len(store):
                return []
            depth = max(50, k * 4)
            if mode == "dense":
                ids = store.dense(query, depth)
            elif mode == "lexical":
                ids = store.lexical(question, depth)
            else:
                ids = store.hybrid(query, question, depth)
            kept, seen = [], set()
            for part in (ids[:k], ids[k:]):  # the rest is read only when duplicates leave too few
                if len(kept) == k or not part:
                    break
                for pid, passage in zip(part, store.passages(part)):
                    if passage.text not in seen:
                        seen.add(passage.text)
                        kept.append((pid, passage))
                        if len(kept) == k:
                            break
            cosines = store.vectors([pid for pid, _ in kept]) @ query if kept else []
        return [passage.with_score(c) for (_, passage), c in zip(kept, cosines)]

    def query_vector(self, question: str) -> np.ndarray:
        """The question's embedding; the last few are kept, so that a caller who searched and then
        needs the vector again (the answer pipeline scores sentences with it) does not pay twice."""
        with self._queries_lock:
            vector = self._queries.get(question)
        if vector is None:
            vector = self.embedder.embed([question])[0]
            vector.setflags(write=False)  # shared by the threads that ask the same question
            with self._queries_lock:
                while len(self._queries) >= QUERIES_KEPT:
                    self._queries.pop(next(iter(self._queries)))
                self._queries[question] = vector
        return vector

    def keyword_first(self, question: str, n: int = 1) -> list[str]:
        """The texts of the `n` passages keyword search (BM25) ranks first, without embedding the
        question: the hybrid ranking's other half, for callers that treat its best match apart.

        Unlike `search`, no scores are computed and duplicates are not merged."""
        question = valid_text(question)
        if not question.strip() or n <= 0:
            return []
        with self._lock:
            if not len(self.store):
                return []
            return [p.text for p in self.store.passages(self.store.lexical(question, n))]

    def documents(self) -> list[DocumentInfo]:
        with self._lock:
            docs = self.store.documents()
        return [DocumentInfo(doc, info.get("title", doc), info.get("paragraphs", 0), info.get("passages", 0),
                             info["sha256"]) for doc, info in sorted(docs.items())]

    def document(self, doc: str) -> dict | None:
        """What the last update saved about `doc` (title, sha256, source file, counts), None when it
        is not indexed."""
        with self._lock:
            return self.store.document(doc)

    def in_document(self, doc: str) -> list[Passage]:
        """The passages of `doc` in reading order (paragraph, part)."""
        with self._lock:
            return self.store.in_document(doc)

    def neighbours(self, passage: Passage) -> tuple[Passage | None, Passage | None]:
        """The stored passages just before and after `passage` in its document's reading order."""
        ordered = self.in_document(passage.doc)
        keys = [(p.paragraph, p.part) for p in ordered]
        try:
            i = keys.index((passage.paragraph, passage.part))
        except ValueError:
            return None, None
        return (ordered[i - 1] if i > 0 else None), (ordered[i + 1] if i + 1 < len(ordered) else None)

    # -- writing ---------------------------------------------------------------------------------
    def sync(self, paths: Iterable[Path | str], progress: bool = False, prune: bool = False,
             follow_links: bool = False) -> UpdateReport:
        """Bring the documents under `paths` up to date: new and changed files are (re)embedded,
        unchanged ones kept as they are, and documents that came from these paths but are no
        longer there dropped. Documents from elsewhere (uploads, other folders) stay.

        A path that does not exist or cannot be reached (an unmounted drive, a renamed share, a
        symlink loop) raises `SourceMissing` before anything changes, unless `prune`: then the
        documents indexed from it are dropped. Symlinks inside a folder that point outside it are
        not followed unless `follow_links`."""
        paths = [Path(p) for p in paths]
        missing = [(p, problem) for p in paths if (problem := root_problem(p))]
        if missing and not prune:
            held = self._documents_from([real(p) for p, _ in missing])
            raise SourceMissing("; ".join(f"{shown(p)}: {why}" for p, why in missing) + (
                f" — nothing was changed: the {len(held)} documents indexed from there are kept "
                "(`qa index --prune` drops them)" if held else " — nothing was indexed"))
        sources, skipped = collect(paths, follow_links)
        names = {s.doc for s in sources}
        roots = [real(p) for p in paths]
        gone = [doc for doc in self._documents_from(roots) if doc not in names]
        report = self._apply(sources, gone, progress)
        report.skipped[:0] = skipped
        return report

    def _documents_from(self, roots: list[Path]) -> list[str]:
        """The documents whose source file is one of `roots` or lies below one of them."""
        with self._lock:
            known = self.store.documents()
        return [doc for doc, info in known.items() if _from(Path(info.get("source", "/")), roots)]

    def add(self, files: Iterable[Path | str], progress: bool = False, prefix: str = "") -> UpdateReport:
        """Add or replace single files, named `prefix` + their file name; other documents stay."""
        sources = [Source(shown(prefix + Path(f).name), Path(f).resolve()) for f in files]
        return self._apply(sources, [], progress)

    def remove(self, docs: Sequence[str]) -> UpdateReport:
        with self._lock:
            known = self.store.documents()
        unknown = [d for d in docs if d not in known]
        if unknown:
            raise KeyError(f"not in the index: {', '.join(unknown)}")
        return self._apply([], list(docs), False)

    def _apply(self, sources: list[Source], gone: list[str], progress: bool) -> UpdateReport:
        with self._lock:
            return self._apply_locked(sources, gone, progress)

    def _apply_locked(self, sources: list[Source], gone: list[str], progress: bool) -> UpdateReport:
        started = time.perf_counter()
        check_data_dir(self.data_dir)  # before any embedding
        report = UpdateReport(removed=list(gone))
        known = self.store.documents()
        chunking = self.manifest.get("chunking") if self.manifest.get("chunking") in CHUNKERS else CHUNKING
        stale = self.manifest.get("chunking") != chunking
        new_passages: list[Passage] = []
        changed: dict[str, dict] = {}
        for source in sources:
            try:
                sha = file_hash(source.path)
                if not stale and known.get(source.doc, {}).get("sha256") == sha:
                    report.unchanged.append(source.doc)
                    continue
                sections = read_sections(source.path, self.limits)
            except (UnreadableDocument, OSError) as exc:
                report.skipped.append((shown(source.path), str(exc) if isinstance(exc, UnreadableDocument)
                                       else f"cannot read: {exc}"))
                continue
            title, passages = CHUNKERS[chunking](sections, source.doc, self.embedder.count_tokens,
                                                 self.embedder.max_tokens)
            if not passages:
                report.skipped.append((shown(source.path), "no paragraphs of text"))
                continue
            (report.updated if source.doc in known else report.added).append(source.doc)
            changed[source.doc] = {"sha256": sha, "title": title, "source": str(source.path),
                                   **counts(passages)}
            new_passages.extend(passages)
        dropped = [doc for doc in gone if doc in known and doc not in changed]
        if not changed and not dropped and not stale:  # nothing to write (a new index stays unwritten)
            report.seconds = time.perf_counter() - started
            return report
        vectors = self._embed([p.text for p in new_passages], progress)
        remaining = set(known) - set(dropped)
        rechunked = not stale or remaining <= set(changed)  # else older chunks of other documents remain
        manifest = {"chunking": chunking if rechunked else self.manifest.get("chunking"),
                    "embedder": {"name": self.embedder.name, "dim": int(vectors.shape[1])}}
        self.store.update([d for d in [*changed, *dropped] if d in known], new_passages, vectors,
                          changed, manifest)
        self.manifest = manifest
        report.passages_embedded = len(new_passages)
        report.seconds = time.perf_counter() - started
        return report

    def _embed(self, texts: list[str], progress: bool):
        import numpy as np
        from tqdm import tqdm

        batches = []
        with tqdm(total=len(texts), unit="passage", desc="embedding", disable=not progress or not texts,
                  leave=False) as bar:
            for i in range(0, len(texts), 64):
                batches.append(self.embedder.embed(texts[i:i + 64]))
                bar.update(len(texts[i:i + 64]))
        if batches:
            return np.vstack(batches)
        return np.zeros((0, self.manifest["embedder"].get("dim") or self.embedder.dim), dtype=np.float32)


def counts(passages: Sequence[Passage]) -> dict:
    """What the document list shows of one document's passages.

    >>> counts([Passage("a", "", 1, "x", part=1), Passage("a", "", 1, "y", part=2), Passage("a", "", 3, "z")])
    {'paragraphs': 2, 'passages': 3}
    """
    return {"paragraphs": len({p.paragraph for p in passages}), "passages": len(passages)}


def _migrate_v1(data_dir: Path, store: LocalStore) -> None:
    """Move a format-1 index (manifest.json + flat FAISS + passages JSONL) into `store`, keeping
    its vectors; idempotent, so a crash half-way is redone on the next open."""
    import sys

    old = read_v1(data_dir)
    if old is None:
        return
    manifest, passages, vectors = old
    print(f"{data_dir}/: moving the index ({len(passages)} passages) to the new store format, once",
          file=sys.stderr)
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc, []).append(p)
    docs = {doc: {**info, **counts(by_doc.get(doc, []))} for doc, info in manifest["documents"].items()}
    store.update(list(docs), passages, vectors, docs,
                 {"chunking": manifest.get("chunking"), "embedder": manifest["embedder"]})
    remove_v1(data_dir, manifest)


def _from(source: Path, roots: list[Path]) -> bool:
    """Whether a document's source file is one of `roots` or lies below one of them."""
    return any(source == root or root in source.parents for root in roots)
