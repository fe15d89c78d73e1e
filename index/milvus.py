"""`MilvusStore`: the store on Milvus (through `pymilvus`), for corpora past one machine — a Milvus
standalone or cluster server (`QA_STORE=milvus://host:19530`) — or embedded in-process as Milvus
Lite (`QA_STORE=path/to/file.db`, the `milvus-lite` package). The code is the same for both.

Dense and keyword search both run inside Milvus: the dense vector field, and a sparse field that
Milvus's own BM25 function fills from the `words` field; hybrid search is Milvus's `hybrid_search`
fused by its RRF ranker. `words` holds the passage's BM25 terms as the local store makes them
(lower case, stop words out, English stemming: `index.lexical.terms`), because Milvus Lite's
analyzer only splits and lower-cases (its stemmer filter is accepted and ignored, measured with
milvus-lite 3.2.2) — so stemming is the same on Lite, on a server and in the local store.

Milvus has no transactions across rows: an update inserts the new passages, then deletes the old
ones by id, then writes the documents and settings rows. A crash in between leaves a document
twice or a stale document row; the next `qa index` of that document replaces all its rows.
"""
from __future__ import annotations

import json
from typing import Iterable, Sequence

import numpy as np

from .files import to_json
from .lexical import RRF_C, terms
from .passage import Passage
from .store import from_record, record

META = "/settings"  # the settings row of the documents collection (document names are relative paths)
BATCH = 1000  # rows per insert
FIELDS = ["text", "record", "dense"]  # returned with search hits


def _literal(value: str) -> str:
    """A Milvus filter string literal (Milvus Lite does not take filter templates)."""
    return json.dumps(value, ensure_ascii=False)


class MilvusStore:
    """The `Store` seam on Milvus; `uri` is `milvus://host:port`, an http(s) URL, or a `.db` path."""

    def __init__(self, uri: str, name: str = "qa"):
        from pathlib import Path

        from pymilvus import MilvusClient

        self.location = uri
        if uri.startswith("milvus://"):
            uri = "http://" + uri[len("milvus://"):]
        elif not uri.startswith(("http://", "https://")):
            Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
            uri = str(Path(uri).expanduser())
        self._lite = not uri.startswith(("http://", "https://"))
        self._client = MilvusClient(uri)
        self._passages, self._documents = f"{name}_passages", f"{name}_documents"
        self._count, self._recent = 0, {}
        if self._ready():
            for collection in (self._passages, self._documents):
                self._client.load_collection(collection)  # a server (or a new process) may have released it
            self._count = self._counted()

    def _counted(self) -> int:
        rows = self._client.query(self._passages, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    # -- creating --------------------------------------------------------------------------------
    def _create(self, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self._client
        schema = client.create_schema(auto_id=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc", DataType.VARCHAR, max_length=4096)
        schema.add_field("paragraph", DataType.INT64)
        schema.add_field("part", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        schema.add_field("record", DataType.VARCHAR, max_length=65535)
        schema.add_field("words", DataType.VARCHAR, max_length=65535, enable_analyzer=True)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["words"], output_field_names=["sparse"]))
        params = client.prepare_index_params()
        # a server picks its ANN index (HNSW today); Milvus Lite's own pick lost a quarter of recall@10
        # against exact search (bench/scale.py, 5,000 passages), and Lite is for small corpora: exact
        params.add_index("dense", index_type="FLAT" if self._lite else "AUTOINDEX", metric_type="IP")
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        params.add_index("doc", index_type="INVERTED")
        client.create_collection(self._passages, schema=schema, index_params=params, consistency_level="Session")
        docs = client.create_schema(auto_id=False)
        docs.add_field("doc", DataType.VARCHAR, max_length=4096, is_primary=True)
        docs.add_field("info", DataType.VARCHAR, max_length=65535)
        docs.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        params = client.prepare_index_params()
        params.add_index("unused", index_type="AUTOINDEX", metric_type="L2")
        client.create_collection(self._documents, schema=docs, index_params=params, consistency_level="Session")

    # -- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    def _ready(self) -> bool:
        return self._client.has_collection(self._documents)

    def meta(self) -> dict | None:
        if not self._ready():
            return None
        rows = self._client.get(self._documents, ids=[META], output_fields=["info"])
        return json.loads(rows[0]["info"]) if rows else None

    def documents(self) -> dict[str, dict]:
        if not self._ready():
            return {}
        found = {}
        it = self._client.query_iterator(self._documents, batch_size=1000, filter=f"doc != {_literal(META)}",
                                         output_fields=["doc", "info"])
        while rows := it.next():
            found.update((r["doc"], json.loads(r["info"])) for r in rows)
        it.close()
        return found

    def document(self, doc: str) -> dict | None:
        if not self._ready() or doc == META:
            return None
        rows = self._client.get(self._documents, ids=[doc], output_fields=["info"])
        return json.loads(rows[0]["info"]) if rows else None

    def _hits(self, result) -> list[int]:
        """The ids of a search's hits; their fields are kept for the `passages` and `vectors` calls
        that follow a search (one round trip instead of three)."""
        self._recent = {int(hit["id"]): hit["entity"] for hit in result[0]}
        return list(self._recent)

    def dense(self, query: np.ndarray, k: int) -> list[int]:
        if not self._count:
            return []
        return self._hits(self._client.search(self._passages, data=[_floats(query)], anns_field="dense", limit=k,
                                              search_params={"metric_type": "IP"}, output_fields=FIELDS))

    def lexical(self, text: str, k: int) -> list[int]:
        words = " ".join(terms(text))
        if not self._count or not words:
            return []
        return self._hits(self._client.search(self._passages, data=[words], anns_field="sparse", limit=k,
                                              search_params={"metric_type": "BM25"}, output_fields=FIELDS))

    def hybrid(self, query: np.ndarray, text: str, k: int) -> list[int]:
        from pymilvus import AnnSearchRequest, RRFRanker

        words = " ".join(terms(text))
        if not self._count or not words:
            return self.dense(query, k)
        requests = [AnnSearchRequest([_floats(query)], "dense", {"metric_type": "IP"}, k),
                    AnnSearchRequest([words], "sparse", {"metric_type": "BM25"}, k)]
        return self._hits(self._client.hybrid_search(self._passages, requests, RRFRanker(RRF_C), limit=k,
                                                        output_fields=FIELDS))

    def _rows(self, ids: Sequence[int], fields: list[str]) -> dict[int, dict]:
        found = {i: self._recent[i] for i in ids if i in self._recent}
        missing = [int(i) for i in ids if i not in found]
        for i in range(0, len(missing), BATCH):
            for row in self._client.get(self._passages, ids=missing[i:i + BATCH], output_fields=fields):
                found[int(row["id"])] = row
        return found

    def passages(self, ids: Sequence[int]) -> list[Passage]:
        rows = self._rows(ids, ["text", "record"])
        return [from_record(rows[i]["text"], rows[i]["record"]) for i in ids if i in rows]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        rows = self._rows(ids, ["dense"])
        if not ids:
            return np.zeros((0, int((self.meta() or {}).get("embedder", {}).get("dim") or 0)), dtype=np.float32)
        return np.asarray([rows[i]["dense"] for i in ids], dtype=np.float32)

    def _query_all(self, filter: str, fields: list[str]) -> list[dict]:
        if not self._count:
            return []
        found = []
        it = self._client.query_iterator(self._passages, batch_size=BATCH, filter=filter, output_fields=fields)
        while rows := it.next():
            found.extend(rows)
        it.close()
        return found

    def ids(self) -> list[int]:
        return sorted(int(r["id"]) for r in self._query_all("", ["id"]))

    def in_document(self, doc: str) -> list[Passage]:
        rows = self._query_all(f"doc == {_literal(doc)}", ["text", "record", "paragraph", "part"])
        rows.sort(key=lambda r: (r["paragraph"], r["part"]))
        return [from_record(r["text"], r["record"]) for r in rows]

    # -- writing ---------------------------------------------------------------------------------
    def update(self, gone: Iterable[str], passages: Sequence[Passage], vectors: np.ndarray,
               documents: dict[str, dict], meta: dict) -> None:
        gone = list(gone)
        if not self._ready():
            self._create(int(meta["embedder"]["dim"]))
        # rows of every document written now, not only of those known as indexed: a crash between
        # the insert and the documents row below leaves rows of a new document, removed on its retry
        old = [int(r["id"]) for d in dict.fromkeys([*gone, *documents])
               for r in self._query_all(f"doc == {_literal(d)}", ["id"])]
        vectors = np.asarray(vectors, dtype=np.float32)
        rows = [{"doc": p.doc, "paragraph": p.paragraph, "part": p.part, "text": p.text, "record": record(p),
                 "words": " ".join(terms(p.text)), "dense": v.tolist()} for p, v in zip(passages, vectors)]
        for i in range(0, len(rows), BATCH):
            self._client.insert(self._passages, rows[i:i + BATCH])
        for i in range(0, len(old), BATCH):
            self._client.delete(self._passages, ids=old[i:i + BATCH])
        stale = [d for d in gone if d not in documents]
        if stale:
            self._client.delete(self._documents, ids=stale)
        entries = [{"doc": d, "info": to_json(info), "unused": [0.0, 0.0]}
                   for d, info in [*documents.items(), (META, meta)]]
        for i in range(0, len(entries), BATCH):
            self._client.upsert(self._documents, entries[i:i + BATCH])
        self._count, self._recent = self._counted(), {}

    def close(self) -> None:
        self._client.close()

    def clear(self) -> None:
        for name in (self._passages, self._documents):
            self._client.drop_collection(name)
        self._count = 0


def _floats(vector: np.ndarray) -> list[float]:
    return np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
