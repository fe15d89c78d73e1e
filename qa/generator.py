"""The generator seam and its llama-cpp-python implementation.

The chat is rendered with the GGUF's own template and tokenized by the model's own tokenizer,
so `count_tokens` is exact and the prompt can be budgeted before any call. One process-wide lock
serialises every call into llama.cpp, which is not thread-safe.

Decoding is a small loop of our own over `Llama.eval` and the next-token logits
(`llama_get_logits_ith`), not `create_completion`: it needs no `logits_all`, reuses the longest
cached prefix of every prompt (so a yes/no check on the same passages costs only its own tokens),
and lets the caller forbid the first token of a reply (to decode the answer the model would give
if it did not abstain).
"""
from __future__ import annotations

import threading
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import ModelError

LLAMA_LOCK = threading.Lock()
CHATML = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
YES = ("yes", "Yes", " yes", " Yes", "YES")
NO = ("no", "No", " no", " No", "NO")


class Generator(Protocol):
    """Streams the reply to chat `messages`; `count_tokens` is the prompt size they make.

    `avoid` names texts the reply must not start with (their first token is forbidden at the first
    position only). A generator may say what it cannot do: `can_avoid = False` (then the assistant
    does not ask for a reply with `avoid`) and, as a `Prober`, `has_probabilities = False` (then it
    gives no confidence); both are taken as true when absent."""

    n_ctx: int

    def stream(self, messages: Sequence[dict], avoid: Sequence[str] = ()) -> Iterator[str]: ...

    def count_tokens(self, messages: Sequence[dict]) -> int: ...


@runtime_checkable
class Prober(Protocol):
    """What a generator that exposes next-token probabilities adds (the llama.cpp one does):
    the signals that calibrated abstention is built on."""

    def yes_probability(self, messages: Sequence[dict]) -> float:
        """P(yes) / (P(yes) + P(no)) for the first token of the reply to `messages`."""

    def reply_probability(self, messages: Sequence[dict], start: str) -> float:
        """The probability that the reply to `messages` begins with `start`."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """
    >>> softmax(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max())
    return z / z.sum()


class LlamaGenerator:
    def __init__(self, model_path: Path, n_ctx: int = 4096, n_threads: int = 2,
                 max_tokens: int = 384, temperature: float = 0.0, seed: int = 0):
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._rng = np.random.default_rng(seed)

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

    # -- decoding ----------------------------------------------------------------------------------
    def _logits(self) -> np.ndarray:
        import llama_cpp

        llm = self.llm
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()

    def _prime(self, tokens: list[int]) -> np.ndarray:
        """Bring the model's state to exactly `tokens`, evaluating only what differs from the cached
        prefix; the next-token logits. Call with `LLAMA_LOCK` held."""
        llm = self.llm
        cached = llm.input_ids[:llm.n_tokens]
        same = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            same += 1
        same = min(same, len(tokens) - 1)  # at least one token is evaluated, to refresh the logits
        llm.n_tokens = same
        llm.eval(tokens[same:])
        return self._logits()

    def stream(self, messages: Sequence[dict], avoid: Sequence[str] = ()) -> Iterator[str]:
        tokens, stop = self.tokens(messages)
        if len(tokens) + 1 + self.max_tokens > self.n_ctx:
            raise ModelError(f"prompt of {len(tokens)} tokens does not leave {self.max_tokens} for the "
                             f"answer in a window of {self.n_ctx}")
        import llama_cpp

        with LLAMA_LOCK:
            llm = self.llm
            banned = {self._first_token(text) for text in avoid if text}
            logits = self._prime(tokens)
            pending, text = b"", ""
            for step in range(self.max_tokens):
                if step == 0 and banned:
                    logits[list(banned)] = -np.inf
                token = self._pick(logits)
                if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):  # noqa: SLF001 - end of turn
                    break
                pending += llm.detokenize([token])
                try:
                    piece = pending.decode("utf-8")
                except UnicodeDecodeError:  # a character split over tokens: wait for the rest
                    piece = None
                if piece is not None:
                    pending = b""
                    text += piece
                    cut = _stop_at(text, stop)
                    if cut is not None:
                        if cut > len(text) - len(piece):
                            yield piece[:cut - (len(text) - len(piece))]
                        return
                    yield piece
                llm.eval([token])
                logits = self._logits()

    def _pick(self, logits: np.ndarray) -> int:
        if self.temperature <= 0:
            return int(np.argmax(logits))
        return int(self._rng.choice(len(logits), p=softmax(logits / self.temperature)))

    @cached_property
    def _yes_no_ids(self) -> tuple[list[int], list[int]]:
        """The ids of the spellings of "yes" and of "no" that are one token each (" Yes", "no", ...)."""
        def single(words: tuple[str, ...]) -> list[int]:
            ids = [self.llm.tokenize(w.encode("utf-8"), add_bos=False, special=False) for w in words]
            return sorted({t[0] for t in ids if len(t) == 1})
        return single(YES), single(NO)

    def _first_token(self, text: str) -> int:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[0]

    # -- probes ----------------------------------------------------------------------------------
    def yes_probability(self, messages: Sequence[dict]) -> float:
        tokens, _ = self.tokens(messages)
        with LLAMA_LOCK:
            p = softmax(self._prime(tokens))
        yes, no = (float(p[ids].sum()) for ids in self._yes_no_ids)
        return yes / (yes + no) if yes + no > 0 else 0.5

    def reply_probability(self, messages: Sequence[dict], start: str) -> float:
        tokens, _ = self.tokens(messages)
        wanted = self.llm.tokenize(start.encode("utf-8"), add_bos=False, special=False)
        prob = 1.0
        with LLAMA_LOCK:
            logits = self._prime(tokens)
            for i, token in enumerate(wanted):
                prob *= float(softmax(logits)[token])
                if i + 1 < len(wanted):
                    self.llm.eval([token])
                    logits = self._logits()
        return prob


def _stop_at(text: str, stops: Sequence[str]) -> int | None:
    """Where the first stop string begins in `text`, if any.

    >>> _stop_at("Lavrov.<|im_end|>", ["<|im_end|>"]), _stop_at("Lavrov.", ["<|im_end|>"])
    (7, None)
    """
    found = [text.find(s) for s in stops if s and s in text]
    return min(found) if found else None


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
