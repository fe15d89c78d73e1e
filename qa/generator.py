"""The generator seam and its llama-cpp-python implementation.

The chat is rendered with the GGUF's own template and tokenized by the model's own tokenizer,
so `count_tokens` is exact and the prompt can be budgeted before any call. One process-wide lock
serialises every call into llama.cpp, which is not thread-safe.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from .errors import ModelError

LLAMA_LOCK = threading.Lock()
CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


class Generator(Protocol):
    """Streams the reply to chat `messages`; `count_tokens` is the prompt size they make."""

    n_ctx: int

    def stream(self, messages: Sequence[dict]) -> Iterator[str]: ...

    def count_tokens(self, messages: Sequence[dict]) -> int: ...


class LlamaGenerator:
    def __init__(self, model_path: Path, n_ctx: int = 4096, n_threads: int = 2,
                 max_tokens: int = 384, temperature: float = 0.0):
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.max_tokens = max_tokens
        self.temperature = temperature

    @property
    def llm(self):
        return _load(str(self.model_path), self.n_ctx, self.n_threads)

    def _formatter(self):
        return _formatter(str(self.model_path), self.n_ctx, self.n_threads)

    def tokens(self, messages: Sequence[dict]) -> tuple[list[int], list[str]]:
        rendered = self._formatter()(messages=list(messages))
        stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop] if rendered.stop else []
        return self.llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=False, special=True), stop

    def count_tokens(self, messages: Sequence[dict]) -> int:
        return len(self.tokens(messages)[0]) + 1  # + a BOS that llama.cpp may prepend

    def stream(self, messages: Sequence[dict]) -> Iterator[str]:
        tokens, stop = self.tokens(messages)
        if len(tokens) + 1 + self.max_tokens > self.n_ctx:
            raise ModelError(f"prompt of {len(tokens)} tokens does not leave {self.max_tokens} for the "
                             f"answer in a window of {self.n_ctx}")
        with LLAMA_LOCK:
            for chunk in self.llm.create_completion(tokens, max_tokens=self.max_tokens, stream=True,
                                                    temperature=self.temperature, stop=stop):
                text = chunk["choices"][0]["text"]
                if text:
                    yield text


@lru_cache(maxsize=2)
def _load(path: str, n_ctx: int, n_threads: int):
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelError("llama-cpp-python is not installed: pip install llama-cpp-python") from exc
    with LLAMA_LOCK:
        try:
            return Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                         n_batch=512, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load the model {path}: {exc}") from exc


@lru_cache(maxsize=2)
def _formatter(path: str, n_ctx: int, n_threads: int):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm = _load(path, n_ctx, n_threads)
    eos, bos = llm.token_eos(), llm.token_bos()
    text = llm._model.token_get_text  # noqa: SLF001 - the public API has no token-to-text call
    template = llm.metadata.get("tokenizer.chat_template") or CHATML
    return Jinja2ChatFormatter(template=template, eos_token=text(eos) if eos != -1 else "",
                               bos_token=text(bos) if bos != -1 else "", stop_token_ids=[eos])
