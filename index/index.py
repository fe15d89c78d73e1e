"""`Index`: a FAISS store plus its passage table and manifest in a data folder."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .build import CHUNKERS, CHUNKING, Source, collect, file_hash
from .embed import Embedder, make_embedder
from .errors import CorruptIndex, EmbedderMismatch, IndexMissing, UnreadableDocument
from .files import (FORMAT, MANIFEST, default_data_dir, read_manifest, read_passages, remove_stale,
                    write_atomic, write_passages)
from .lexical import MODES, WEIGHTS, LexicalIndex, fuse
from .passage import Passage
from .readers import read_document
from .store import FaissStore, VectorStore


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

    STORE: type[VectorStore] = FaissStore  # the vector store backend (index/store.py declares the seam)

    def __init__(self, data_dir: Path, embedder: Embedder, store: VectorStore | None,
                 passages: list[Passage], manifest: dict):
        self.data_dir = Path(data_dir)
        self.embedder = embedder
        self._store = store
        self.passages = passages
        self.manifest = manifest
        self._lock = threading.RLock()  # an update swaps store and passages together
        self._lexical: tuple[list[Passage], LexicalIndex] | None = None  # (for these passages, BM25)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path | str | None = None, embedder: Embedder | None = None,
             create: bool = False, chunking: str = CHUNKING) -> "Index":
        """Open the index in `data_dir` (default `.qa`, or `$QA_DATA_DIR`).

        Raises `IndexMissing` when there is none (unless `create`), and `EmbedderMismatch` when it
        was built with another embedder than `embedder`.
        """
        data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        embedder = embedder or make_embedder()
        manifest = read_manifest(data_dir)
        if manifest is None:
            if not create:
                raise IndexMissing(f"no index in {data_dir}/ yet: build one with `qa index [PATH ...]`")
            manifest = {"format": FORMAT, "generation": 0, "chunking": chunking,
                        "embedder": {"name": embedder.name}, "documents": {}}
            return cls(data_dir, embedder, None, [], manifest)
        built_with = manifest["embedder"]["name"]
        if built_with != embedder.name:
            raise EmbedderMismatch(
                f"the index in {data_dir}/ was built with the embedder {built_with!r} "
                f"({manifest['embedder'].get('dim', '?')}-d), not {embedder.name!r}: "
                "rebuild it with `qa index --rebuild` or choose the same embedder and backend "
                "(QA_EMBEDDER, QA_EMBED_BACKEND)")
        store = cls.STORE.load(data_dir / manifest["vectors"])
        passages = read_passages(data_dir / manifest["passages"])
        if len(passages) != len(store):
            raise CorruptIndex(f"{data_dir}/ holds {len(store)} vectors for {len(passages)} passages: "
                               "rebuild it with `qa index --rebuild`")
        return cls(data_dir, embedder, store, passages, manifest)

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.passages)

    def search(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """The `k` passages that best match `question`, best first. Passages with identical text
        (from different documents) are returned once.

        `mode`: "dense" ranks by embedding similarity, "lexical" by BM25 keyword match, "hybrid"
        (the default) fuses both rankings by reciprocal rank fusion. Whatever the mode, each
        passage's `score` is its cosine similarity to the question, so a floor means the same
        thing in every mode.
        """
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        if not question.strip() or not self.passages or k <= 0:
            return []
        query = self.embedder.embed([question])
        with self._lock:
            passages, store = self.passages, self._store
            depth = min(len(passages), max(50, k * 4))
            rankings = []
            if mode != "lexical":
                rankings.append([int(r) for r in store.search(query, depth)[1][0] if r >= 0])
            if mode != "dense":
                rankings.append(self._lexical_index().search(question, depth))
        rows = rankings[0] if len(rankings) == 1 else fuse(rankings, WEIGHTS)
        kept, seen = [], set()
        for row in rows:
            if passages[row].text not in seen:
                seen.add(passages[row].text)
                kept.append(row)
                if len(kept) == k:
                    break
        cosines = store.vectors(kept) @ query[0]
        return [passages[row].with_score(c) for row, c in zip(kept, cosines)]

    def _lexical_index(self) -> LexicalIndex:
        """The BM25 index of the current passages, built on first use after each update."""
        with self._lock:
            if self._lexical is None or self._lexical[0] is not self.passages:
                self._lexical = (self.passages, LexicalIndex([p.text for p in self.passages]))
            return self._lexical[1]

    def documents(self) -> list[DocumentInfo]:
        counts: dict[str, tuple[set[int], int]] = {}
        for p in self.passages:
            paras, n = counts.get(p.doc, (set(), 0))
            paras.add(p.paragraph)
            counts[p.doc] = (paras, n + 1)
        return [DocumentInfo(doc, info.get("title", doc), len(counts.get(doc, (set(), 0))[0]),
                             counts.get(doc, (set(), 0))[1], info["sha256"])
                for doc, info in sorted(self.manifest["documents"].items())]

    def neighbours(self, passage: Passage) -> tuple[Passage | None, Passage | None]:
        """The stored passages just before and after `passage` in its document's reading order."""
        ordered = sorted((p for p in self.passages if p.doc == passage.doc), key=lambda p: (p.paragraph, p.part))
        keys = [(p.paragraph, p.part) for p in ordered]
        try:
            i = keys.index((passage.paragraph, passage.part))
        except ValueError:
            return None, None
        return (ordered[i - 1] if i > 0 else None), (ordered[i + 1] if i + 1 < len(ordered) else None)

    # -- writing ---------------------------------------------------------------------------------
    def sync(self, paths: Iterable[Path | str], progress: bool = False) -> UpdateReport:
        """Bring the documents under `paths` up to date: new and changed files are (re)embedded,
        unchanged ones kept as they are, and documents that came from these paths but are no
        longer there dropped. Documents from elsewhere (uploads, other folders) stay."""
        paths = [Path(p) for p in paths]
        sources, skipped = collect(paths)
        names = {s.doc for s in sources}
        roots = [p.resolve() for p in paths]
        gone = [doc for doc, info in self.manifest["documents"].items()
                if doc not in names and _from(Path(info.get("source", "/")), roots)]
        report = self._apply(sources, gone, progress)
        report.skipped[:0] = skipped
        return report

    def add(self, files: Iterable[Path | str], progress: bool = False, prefix: str = "") -> UpdateReport:
        """Add or replace single files, named `prefix` + their file name; other documents stay."""
        sources = [Source(prefix + Path(f).name, Path(f).resolve()) for f in files]
        return self._apply(sources, [], progress)

    def remove(self, docs: Sequence[str]) -> UpdateReport:
        unknown = [d for d in docs if d not in self.manifest["documents"]]
        if unknown:
            raise KeyError(f"not in the index: {', '.join(unknown)}")
        return self._apply([], list(docs), False)

    def _apply(self, sources: list[Source], gone: list[str], progress: bool) -> UpdateReport:
        with self._lock:
            return self._apply_locked(sources, gone, progress)

    def _apply_locked(self, sources: list[Source], gone: list[str], progress: bool) -> UpdateReport:
        started = time.perf_counter()
        report = UpdateReport(removed=list(gone))
        docs = dict(self.manifest["documents"])
        chunking = self.manifest.get("chunking") if self.manifest.get("chunking") in CHUNKERS else CHUNKING
        stale = self.manifest.get("chunking") != chunking
        new_passages: list[Passage] = []
        replaced: set[str] = set(gone)
        for source in sources:
            try:
                sha = file_hash(source.path)
                if not stale and docs.get(source.doc, {}).get("sha256") == sha:
                    report.unchanged.append(source.doc)
                    continue
                text = read_document(source.path)
            except (UnreadableDocument, OSError) as exc:
                report.skipped.append((str(source.path), str(exc) if isinstance(exc, UnreadableDocument)
                                       else f"cannot read: {exc}"))
                continue
            title, passages = CHUNKERS[chunking](text, source.doc, self.embedder.count_tokens,
                                                 self.embedder.max_tokens)
            if not passages:
                report.skipped.append((str(source.path), "no paragraphs of text"))
                continue
            (report.updated if source.doc in docs else report.added).append(source.doc)
            replaced.add(source.doc)
            docs[source.doc] = {"sha256": sha, "title": title, "source": str(source.path)}
            new_passages.extend(passages)
        for doc in gone:
            docs.pop(doc, None)
        if not replaced and self._store is not None and not stale:
            report.seconds = time.perf_counter() - started
            return report
        vectors = self._embed([p.text for p in new_passages], progress)
        keep = [i for i, p in enumerate(self.passages) if p.doc not in replaced and p.doc in docs]
        store = self._store.take(keep) if self._store is not None else self.STORE(vectors.shape[1])
        store.add(vectors)
        self._store = store
        self.passages = [self.passages[i] for i in keep] + new_passages
        rechunked = not stale or set(docs) <= replaced  # else older chunks of other documents remain
        self.manifest = {**self.manifest, "documents": docs,
                         "chunking": chunking if rechunked else self.manifest.get("chunking"),
                         "embedder": {"name": self.embedder.name, "dim": store.dim}}
        self._save()
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
        return np.zeros((0, self._store.dim if self._store else self.embedder.dim), dtype=np.float32)

    def _save(self) -> None:
        import json

        self.data_dir.mkdir(parents=True, exist_ok=True)
        generation = int(self.manifest.get("generation", 0)) + 1
        vectors, passages = f"vectors-{generation}.faiss", f"passages-{generation}.jsonl"
        self._store.save(self.data_dir / vectors)
        write_passages(self.data_dir / passages, self.passages)
        self.manifest = {**self.manifest, "generation": generation, "vectors": vectors,
                         "passages": passages, "count": len(self.passages)}
        write_atomic(self.data_dir / MANIFEST, json.dumps(self.manifest, indent=1, ensure_ascii=False))
        remove_stale(self.data_dir, {vectors, passages})


def _from(source: Path, roots: list[Path]) -> bool:
    """Whether a document's source file is one of `roots` or lies below one of them."""
    return any(source == root or root in source.parents for root in roots)
