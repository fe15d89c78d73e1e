"""Documents and search: read → clean → split into paragraphs → embed → FAISS + passage table.

    from index import Index
    Index.open().search("Who is nicknamed Doctor No?", k=5)   # → list[Passage]
"""
from .embed import DEFAULT_EMBEDDER, Embedder, SentenceTransformerEmbedder, make_embedder
from .errors import (CorruptIndex, DataDirUnusable, EmbedderError, EmbedderMismatch, IndexMissing, SearchIndexError,
                     SourceMissing, UnreadableDocument)
from .files import default_data_dir
from .index import DocumentInfo, Index, UpdateReport
from .passage import Passage

__all__ = ["DEFAULT_EMBEDDER", "CorruptIndex", "DataDirUnusable", "DocumentInfo", "Embedder", "EmbedderError",
           "EmbedderMismatch", "Index", "IndexMissing", "Passage", "SearchIndexError", "SentenceTransformerEmbedder",
           "SourceMissing", "UnreadableDocument", "UpdateReport", "default_data_dir", "make_embedder"]
