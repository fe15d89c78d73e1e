"""The generator seam over HTTP: any OpenAI-compatible server (llama.cpp's, llama-cpp-python's,
vLLM, Ollama, LM Studio, ...) through the official `openai` client.

No lock: requests go out concurrently and the server batches (or queues) them. What the server
offers is found out once, on first use (`RemoteGenerator.probe`):

- token counts: the server's own tokenizer where it has one — llama.cpp's `/apply-template` then
  `/tokenize` (exact; its window from `/props`), vLLM's `/tokenize` with the chat messages (exact;
  its window from `/v1/models`), llama-cpp-python's `/extras/tokenize` over a ChatML rendering (exact when a
  1-token request's `usage.prompt_tokens` agrees, else that difference and 4 tokens a message are
  added) — otherwise a local `transformers` tokenizer named by the model, otherwise one token per
  UTF-8 byte plus 8 a message: a byte-level tokenizer never makes more, so the window is never
  overflowed, at the price of sending fewer passages;
- next-token probabilities (`logprobs` / `top_logprobs` of a 1-token reply): the yes/no checks and
  the probability of the abstention sentence that calibrated abstention rests on;
- a reply that must not start with given texts (`avoid`): the first token is chosen with those
  tokens' `logit_bias` at -100 on `/v1/completions` over the exact prompt, then the reply goes on
  from it; only where the prompt text is known (llama.cpp's template, or the ChatML rendering
  confirmed above).

The API key comes from `QA_LLM_API_KEY` in the environment, is sent only as the bearer token and is
never stored in settings, messages or logs.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from .errors import ModelError, ModelServerError
from .generator import NO, YES

PER_MESSAGE = 8  # template tokens per message allowed for by the estimate
TOP = 20  # top_logprobs asked for (the OpenAI API's maximum)
STOPS = ["<|im_end|>", "<|eot_id|>", "<|end|>", "</s>"]  # ends of turn, for raw-prompt completions


def chatml(messages: Sequence[dict], generation_prompt: bool = True) -> str:
    """Messages rendered in ChatML (Qwen's and many others' template).

    >>> chatml([{"role": "user", "content": "Hi"}])
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if generation_prompt else "")


def estimate_tokens(messages: Sequence[dict]) -> int:
    """An upper bound on the prompt's tokens for any byte-level tokenizer: one per UTF-8 byte of the
    contents, plus `PER_MESSAGE` for each message's template.

    >>> estimate_tokens([{"role": "user", "content": "Hé"}])
    11
    """
    return sum(len(m["content"].encode("utf-8")) + PER_MESSAGE for m in messages)


def yes_share(top: Sequence[tuple[str, float]]) -> float:
    """P(yes) / (P(yes) + P(no)) from a first token's top log-probabilities (token text, logprob).

    >>> round(yes_share([("Yes", math.log(0.6)), ("No", math.log(0.2)), ("The", math.log(0.1))]), 3)
    0.75
    >>> yes_share([("The", -0.1)])
    0.5
    """
    yes = sum(math.exp(lp) for t, lp in top if t in YES)
    no = sum(math.exp(lp) for t, lp in top if t in NO)
    return yes / (yes + no) if yes + no > 0 else 0.5


def start_probability(steps: Sequence[tuple[str, Sequence[tuple[str, float]]]], start: str) -> float:
    """The probability that a reply begins with `start`, from a greedy reply's steps (the token
    chosen, and the top log-probabilities at that position). Exact while the reply follows `start`;
    where it leaves it, the probability of `start`'s token there (at most the smallest listed one
    when it is not listed) ends the product, so the result is an upper bound.

    >>> round(start_probability([("The", [("The", math.log(0.5))]), (" documents", [(" documents", math.log(0.8))])],
    ...                         "The documents"), 3)
    0.4
    >>> round(start_probability([("Lav", [("Lav", math.log(0.7)), ("The", math.log(0.2))])], "The documents"), 3)
    0.2
    """
    prob, done = 1.0, ""
    for chosen, top in steps:
        rest = start[len(done):]
        if not rest:
            break
        fits = [(t, lp) for t, lp in top if t and (rest.startswith(t) or t.startswith(rest))]
        if not fits:
            return prob * min((math.exp(lp) for _, lp in top), default=0.0)
        token, lp = next(((t, lp) for t, lp in fits if t == chosen), max(fits, key=lambda x: x[1]))
        prob *= math.exp(lp)
        if token != chosen:
            break
        done += token
    return prob


@dataclass
class Offers:
    """What the server turned out to offer (found once by `RemoteGenerator.probe`)."""

    model: str
    n_ctx: int
    counting: str  # how tokens are counted, in words
    count: Callable[[Sequence[dict]], int]
    probabilities: bool  # logprobs / top_logprobs come back
    tokenize: Callable[[str], list[int]] | None = None  # the server's tokenizer, raw text
    render: Callable[[Sequence[dict]], str] | None = None  # the exact prompt text, where known


class RemoteGenerator:
    """`Generator` (and, where the server returns log-probabilities, `Prober`) over HTTP."""

    def __init__(self, url: str, model: str = "", n_ctx: int = 4096, max_tokens: int = 384,
                 temperature: float = 0.0, timeout: float = 120.0, retries: int = 2):
        if not url.startswith(("http://", "https://")):
            raise ModelError(f"QA_LLM_URL must be an http(s) URL such as http://127.0.0.1:8080/v1, not {url!r}")
        self.url = url.rstrip("/")
        self.root = self.url.removesuffix("/v1")
        self.model_name, self._n_ctx = model, n_ctx
        self.max_tokens, self.temperature = max_tokens, temperature
        self.timeout, self.retries = timeout, retries
        self._offers: Offers | None = None
        self._lock = threading.Lock()  # only around finding out what the server offers

    def __repr__(self) -> str:  # no key in here, ever
        return f"RemoteGenerator({self.url!r}, model={self.model_name!r})"

    # -- what the server offers --------------------------------------------------------------------
    @property
    def offers(self) -> Offers:
        if self._offers is None:
            with self._lock:
                if self._offers is None:
                    self._offers = self.probe()
        return self._offers

    @property
    def n_ctx(self) -> int:
        return self.offers.n_ctx

    @property
    def has_probabilities(self) -> bool:
        return self.offers.probabilities

    @property
    def can_avoid(self) -> bool:
        return self.offers.render is not None and self.offers.tokenize is not None

    def count_tokens(self, messages: Sequence[dict]) -> int:
        try:
            return int(self.offers.count(messages))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelServerError(f"the model server at {self.url} sent a token count that is not in its "
                                   f"usual format: {_one_line(repr(exc))}") from exc

    def probe(self) -> Offers:
        """One look at the server: its model and window, a tokenizer, whether it returns logprobs."""
        with self._errors("being asked what it offers"):
            return self._probe()

    def _maybe(self, path: str, body: dict | None) -> dict:
        """An optional route's JSON object; {} when the server has no such route (or fails on it)."""
        try:
            found = self._post(path, body)
        except ModelServerError:
            return {}
        return found if isinstance(found, dict) else {}

    def _probe(self) -> Offers:
        with self._errors("listing its models"):
            models = self.client.models.list().data
        ids = [m.id for m in models]
        model = self.model_name or (ids[0] if ids else "")
        if self.model_name and ids and self.model_name not in ids:
            raise ModelServerError(f"the model server at {self.url} has no model {self.model_name!r} "
                                   f"(it offers {', '.join(ids)}): set QA_LLM_MODEL")
        extra = next(((m.model_extra or {}) for m in models if m.id == model), {})
        n_ctx = int(extra.get("max_model_len") or self._n_ctx)
        test = [{"role": "system", "content": "Reply yes or no."}, {"role": "user", "content": "Is ice cold?"}]
        import openai

        with self._errors("answering a one-token test"):
            try:
                reply = self.client.chat.completions.create(
                    model=model, messages=test, max_tokens=1, temperature=0, logprobs=True, top_logprobs=TOP)
            except (openai.BadRequestError, openai.UnprocessableEntityError):  # no logprobs here
                reply = self.client.chat.completions.create(model=model, messages=test, max_tokens=1, temperature=0)
        probabilities = bool(reply.choices and reply.choices[0].logprobs and reply.choices[0].logprobs.content)
        used = reply.usage.prompt_tokens if reply.usage else None
        offers = Offers(model, n_ctx, "", lambda ms: 0, probabilities)
        if isinstance(self._maybe("/apply-template", {"messages": test}).get("prompt"), str):  # llama-server
            def tokenize(text: str) -> list[int]:
                return list(self._post("/tokenize", {"content": text, "add_special": True})["tokens"])

            def render(ms: Sequence[dict]) -> str:
                return self._post("/apply-template", {"messages": list(ms)})["prompt"]

            props = self._maybe("/props", None)
            offers.n_ctx = int((props.get("default_generation_settings") or {}).get("n_ctx") or n_ctx)
            offers.counting = "the server's /apply-template and /tokenize (exact)"
            offers.tokenize, offers.render = tokenize, render
            offers.count = lambda ms: len(tokenize(render(ms)))
        elif "count" in self._maybe("/tokenize", {"model": model, "messages": test,
                                                  "add_generation_prompt": True}):  # vLLM
            offers.counting = "the server's /tokenize with the chat template (exact)"
            offers.count = lambda ms: int(self._post("/tokenize", {"model": model, "messages": list(ms),
                                                                    "add_generation_prompt": True})["count"])
        elif "tokens" in self._maybe("/extras/tokenize", {"model": model, "input": "x"}):  # llama-cpp-python
            def tokenize(text: str) -> list[int]:
                return list(self._post("/extras/tokenize", {"model": model, "input": text})["tokens"])

            offers.tokenize = tokenize
            mine = len(tokenize(chatml(test)))
            if used == mine:
                offers.counting = "the server's /extras/tokenize over the ChatML template (exact: checked)"
                offers.render = chatml
                offers.count = lambda ms: len(tokenize(chatml(ms)))
            else:
                margin = max(0, (used or 0) - mine) + 4
                offers.counting = (f"the server's /extras/tokenize over ChatML, plus {margin} tokens a message "
                                   f"(its template is not ChatML)")
                offers.count = lambda ms: len(tokenize(chatml(ms))) + margin * len(ms)
        else:
            local = _local_tokenizer(model)
            if local is not None:
                offers.counting = f"the local tokenizer of {model} (exact)"
                offers.count = lambda ms: len(local.apply_chat_template(list(ms), add_generation_prompt=True,
                                                                        tokenize=True))
            else:
                offers.counting = (f"an estimate: one token per byte plus {PER_MESSAGE} a message (the server "
                                   "has no tokenizer endpoint)")
                offers.count = estimate_tokens
        return offers

    # -- HTTP --------------------------------------------------------------------------------------
    @property
    def client(self):
        try:
            from openai import OpenAI
        except ImportError as exc:
            raise ModelError("the openai package is not installed: pip install openai") from exc
        if getattr(self, "_client", None) is None:
            self._client = OpenAI(base_url=self.url, api_key=os.environ.get("QA_LLM_API_KEY") or "none",
                                  timeout=self.timeout, max_retries=self.retries)
        return self._client

    def _post(self, path: str, body: dict | None) -> dict | None:
        """A JSON POST (a GET without `body`) to one of the server's own routes beside /v1; None when
        it has no such route."""
        headers = {"Content-Type": "application/json"}
        if os.environ.get("QA_LLM_API_KEY"):
            headers["Authorization"] = f"Bearer {os.environ['QA_LLM_API_KEY']}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.root + path, data, headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 405, 422, 400):
                return None
            raise ModelServerError(f"the model server at {self.url} answered {exc.code} on {path}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ModelServerError(f"the model server at {self.url} did not answer on {path}: "
                                   f"{getattr(exc, 'reason', exc)}") from exc
        except ValueError as exc:
            raise ModelServerError(f"the model server at {self.url} sent no JSON on {path}") from exc

    @contextlib.contextmanager
    def _errors(self, doing: str):
        """The openai client's exceptions (and a reply that is not the API's format) as one line."""
        import openai

        where = f"the model server at {self.url}"
        try:
            yield
        except openai.APITimeoutError as exc:
            raise ModelServerError(f"{where} did not answer within {self.timeout:g} s while {doing} "
                                   f"(tried {self.retries + 1} times): it may be overloaded; raise "
                                   f"QA_LLM_TIMEOUT or try again") from exc
        except openai.APIConnectionError as exc:
            raise ModelServerError(f"{where} cannot be reached while {doing} (tried {self.retries + 1} "
                                   f"times): is it running? check QA_LLM_URL") from exc
        except openai.AuthenticationError as exc:
            raise ModelServerError(f"{where} refused the API key: set QA_LLM_API_KEY") from exc
        except openai.APIStatusError as exc:
            hint = " (its context window: set QA_N_CTX to it)" if "context" in str(exc).lower() else ""
            raise ModelServerError(f"{where} answered {exc.status_code} while {doing}: "
                                   f"{_one_line(exc.message)}{hint}") from exc
        except (openai.OpenAIError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ModelServerError(f"{where} sent a reply that is not in the OpenAI format while {doing}: "
                                   f"{_one_line(str(exc))}") from exc

    # -- generating --------------------------------------------------------------------------------
    def stream(self, messages: Sequence[dict], avoid: Sequence[str] = ()) -> Iterator[str]:
        offers = self.offers
        size = offers.count(messages)
        if size + self.max_tokens > offers.n_ctx:
            raise ModelError(f"prompt of {size} tokens does not leave {self.max_tokens} for the answer in "
                             f"the server's window of {offers.n_ctx}")
        if avoid and self.can_avoid:
            yield from self._stream_avoiding(messages, avoid)
            return
        with self._errors("answering"):
            response = self.client.chat.completions.create(
                model=offers.model, messages=list(messages), max_tokens=self.max_tokens,
                temperature=self.temperature, stream=True)
            with response:  # closed when the reader stops (the user's Stop): the server stops too
                for chunk in response:
                    if not chunk.choices:
                        continue
                    piece = chunk.choices[0].delta.content
                    if piece:
                        yield piece

    def _stream_avoiding(self, messages: Sequence[dict], avoid: Sequence[str]) -> Iterator[str]:
        offers = self.offers
        with self._errors("answering"):
            prompt = offers.render(messages)
            banned = {str(offers.tokenize(text)[0]): -100 for text in avoid if text}
            first = self.client.completions.create(model=offers.model, prompt=prompt, max_tokens=1,
                                                   temperature=0, logit_bias=banned, stop=STOPS)
            head = first.choices[0].text
            if not head or first.choices[0].finish_reason == "stop":
                return
            yield head
            response = self.client.completions.create(
                model=offers.model, prompt=prompt + head, max_tokens=self.max_tokens - 1,
                temperature=self.temperature, stream=True, stop=STOPS)
            with response:
                for chunk in response:
                    if chunk.choices and chunk.choices[0].text:
                        yield chunk.choices[0].text

    # -- probes ------------------------------------------------------------------------------------
    def _steps(self, messages: Sequence[dict], tokens: int) -> list[tuple[str, list[tuple[str, float]]]]:
        with self._errors("reporting token probabilities"):
            reply = self.client.chat.completions.create(
                model=self.offers.model, messages=list(messages), max_tokens=tokens, temperature=0,
                logprobs=True, top_logprobs=TOP)
            content = reply.choices[0].logprobs.content
            return [(c.token, [(t.token, t.logprob) for t in c.top_logprobs]) for c in content]

    def yes_probability(self, messages: Sequence[dict]) -> float:
        steps = self._steps(messages, 1)
        return yes_share(steps[0][1]) if steps else 0.5

    def reply_probability(self, messages: Sequence[dict], start: str) -> float:
        return start_probability(self._steps(messages, max(1, len(start.split()) * 2)), start)


def _local_tokenizer(model: str):
    """A tokenizer with a chat template for `model` already on this machine (never downloaded)."""
    if "/" not in model:  # not a hub id ("org/name") such as vLLM serves under: nothing to look up
        return None
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
        return tokenizer if getattr(tokenizer, "chat_template", None) else None
    except Exception:  # noqa: BLE001 - no such tokenizer here, for whatever reason: estimate instead
        return None


def _one_line(text: str, limit: int = 200) -> str:
    """
    >>> _one_line("a\\nb")
    'a b'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
