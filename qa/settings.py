"""One typed settings object. Defaults are documented here; `QA_<NAME>` in the environment and
CLI flags override them (flags win)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from index import DEFAULT_EMBEDDER, default_data_dir
from index.embed import BACKENDS, DEFAULT_BACKEND
from index.files import default_cache_dir
from index.lexical import MODES
from index.readers import Limits
from index.store import store_kind

from .errors import SettingsError
from .support import RELATED, SUPPORTED

REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _default_seeds() -> Path:
    return Path("seeds") if Path("seeds").is_dir() else REPO_SEEDS


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)  # the index: QA_DATA_DIR, else ./.qa
    # where passages and vectors live: "" the local store (SQLite + FAISS) in data_dir;
    # milvus://host:19530 a Milvus server or cluster; a path ending in .db Milvus Lite (embedded)
    store: str = ""
    seeds: Path = field(default_factory=_default_seeds)  # what `qa index` indexes by default
    cache_dir: Path = field(default_factory=default_cache_dir)  # assembled GGUF files, the int8 embedder export
    embedder: str = DEFAULT_EMBEDDER  # sentence-transformers name, local folder or hub id
    embed_backend: str = DEFAULT_BACKEND  # "torch", or "onnx-int8" (exported once into cache_dir; docs/embedding.md)
    profile: str = "default"  # model profile from the catalogue: "default" (1.5B) or "fast" (0.5B)
    model_path: str = ""  # any GGUF file; overrides the profile when set
    k: int = 5  # passages retrieved per question
    search: str = "hybrid"  # "hybrid" (BM25 + dense, fused), "dense" or "lexical"
    min_score: float = 0.2  # below this cosine similarity no passage counts as relevant
    margin: float = 0.1  # passages sent: those within this cosine similarity of the best one,
    keyword_keep: int = 1  # ... and the passages keyword search (BM25) ranks first, this many (0: none)
    budget: int = 160  # tokens of passage text sent: the best sentences of the passages kept
    reasons_budget: int = 320  # the same for a "why" question, whose answer gives every reason stated
    # what a sentence needs to count as supported by the passage it cites (qa/support.py):
    supported_share: float = SUPPORTED  # ... this share of its new content words found in the passage
    related: float = RELATED  # ... and this cosine similarity of question + sentence to a passage sentence
    # calibrated abstention (qa/abstain.py); operating points chosen on the development runs
    # (bench/calibrate.py): the most unanswerable questions declined while false abstention stays
    # near 0.09 on both sets (docs/evaluation.md):
    retry_floor: float = 0.6  # the model abstained, but the passages answer with at least this
    #                           probability: decode its answer with the abstention forbidden
    confidence_floor: float = 0.45  # an answer below this confidence is withheld (abstention)
    n_ctx: int = 4096  # the LLM's context window, prompt and answer together
    max_tokens: int = 384  # longest answer, in tokens; reserved in the window
    max_question_tokens: int = 200  # longer questions are trimmed, with a note
    n_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    temperature: float = 0.0
    # an OpenAI-compatible model server instead of the in-process model (qa/remote.py); the API key
    # is read from QA_LLM_API_KEY by the client only, never kept here (settings go into reports)
    llm_url: str = ""  # e.g. http://127.0.0.1:8080/v1; empty: llama.cpp in this process
    llm_model: str = ""  # the server's model name; empty: the first one it lists
    llm_timeout: float = 120.0  # seconds to wait for the server (connecting, or between streamed words)
    llm_retries: int = 2  # further tries when the server cannot be reached or answers 429/5xx
    llm_parallel: int = 4  # chat questions sent to the server at once (the in-process model: always 1)
    # the assistant's own OpenAI-compatible API beside the chat (ui/api.py); its bearer token, if
    # any, is read from QA_API_KEY by the API only
    api_max_bytes: int = 65536  # largest request body accepted
    api_queue: int = 16  # API requests in progress or waiting at once; more are answered 429
    # what one file may cost to read; over a limit it is refused with the reason (index/readers.py)
    max_file_mb: int = 50  # size on disk (and of an upload)
    max_unpacked_mb: int = 200  # decompressed size of a .docx/.pptx/.xlsx/.odt/.epub (zip bombs)
    max_pages: int = 2000  # PDF pages, slides, e-book chapters, e-mails in an mbox
    max_rows: int = 100_000  # spreadsheet and CSV rows

    @property
    def limits(self) -> Limits:
        return Limits(self.max_file_mb, self.max_unpacked_mb, self.max_pages, self.max_rows)

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> "Settings":
        """Defaults, then `QA_*` variables, then non-None `overrides`.

        >>> Settings.from_env({"QA_K": "7"}, max_tokens=100).k
        7
        """
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw not in (None, ""):
                values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: _convert(k, cls.__dataclass_fields__[k].type, v) if isinstance(v, str) else v
                       for k, v in overrides.items() if v is not None})
        return cls(**values).checked()

    def but(self, **changes) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None}).checked()

    def checked(self) -> "Settings":
        if self.embed_backend not in BACKENDS:
            raise SettingsError(f"embed_backend must be one of {', '.join(BACKENDS)}, not {self.embed_backend!r}")
        if self.k < 1:
            raise SettingsError(f"k must be at least 1, not {self.k}")
        try:
            store_kind(self.store)
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
        if self.search not in MODES:
            raise SettingsError(f"search must be one of {', '.join(MODES)}, not {self.search!r}")
        if self.budget < 16 or self.margin < 0 or self.keyword_keep < 0:
            raise SettingsError(f"budget must be at least 16 tokens, margin and keyword_keep not negative, "
                                f"not {self.budget}, {self.margin} and {self.keyword_keep}")
        if not (0 <= self.supported_share <= 1 and 0 <= self.retry_floor <= 1 and 0 <= self.confidence_floor <= 1):
            raise SettingsError("supported_share, retry_floor and confidence_floor must lie between 0 and 1")
        if self.n_ctx < 512:
            raise SettingsError(f"n_ctx must be at least 512, not {self.n_ctx}")
        if not 16 <= self.max_tokens <= self.n_ctx // 2:
            raise SettingsError(f"max_tokens must be between 16 and n_ctx/2 ({self.n_ctx // 2}), not {self.max_tokens}")
        if self.llm_url and not self.llm_url.startswith(("http://", "https://")):
            raise SettingsError(f"llm_url must be an http(s) URL such as http://127.0.0.1:8080/v1, not {self.llm_url!r}")
        if self.llm_timeout <= 0 or self.llm_retries < 0 or self.llm_parallel < 1 or self.api_queue < 1:
            raise SettingsError("llm_timeout must be positive, llm_retries not negative, llm_parallel and "
                                "api_queue at least 1")
        if min(self.max_file_mb, self.max_unpacked_mb, self.max_pages, self.max_rows) < 1:
            raise SettingsError("max_file_mb, max_unpacked_mb, max_pages and max_rows must be at least 1")
        if self.n_threads < 1:
            raise SettingsError(f"n_threads must be at least 1, not {self.n_threads}")
        return self


def _convert(name: str, kind, raw):
    kind = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw).expanduser()
        return str(raw)
    except ValueError as exc:
        raise SettingsError(f"QA_{name.upper()}={raw!r} is not a valid {kind}") from exc
