"""The assistant as an OpenAI-compatible HTTP API, served by `qa serve` on the chat's port:

- `POST /v1/chat/completions` (streamed or not): the last user message is the question, the earlier
  user messages make follow-ups self-contained as in the chat (the client's system messages are not
  used: the grounding prompt is fixed). The reply text carries the `[n]` markers; the extra field
  `qa` (ignored by standard clients) carries `answer` (the checked text), `citations` (`n`, `doc`,
  `title`, `paragraph`, `text`, `quote`: the sentence the check rested on), `abstained`,
  `confidence` and `notes`. Optional body fields: `k`, `search`.
- `GET /v1/models`: `qa` (the configured profile) and `qa-<profile>` for each installed profile.
- `POST /v1/search` `{"query": ..., "k": 5, "search": "hybrid"}`: the passages, as JSON.

Errors are OpenAI-shaped (`{"error": {"message", "type", "code"}}`): 400 for a malformed request,
401 for a wrong bearer token (`QA_API_KEY`, when set), 404 for an unknown model, 413 past
`api_max_bytes`, 429 when `api_queue` requests are already in progress, 503 when the model server
fails. A stream that fails after it started ends with an `error` event, which the `openai` client
raises as `APIError`.
"""
from __future__ import annotations

import hmac
import json
import os
import threading
import time
import uuid

from fastapi import Request  # at module level: FastAPI resolves the routes' annotations here

from index import SearchIndexError
from index.lexical import MODES
from qa import Answer, QAError
from qa.errors import ModelServerError

DONE = object()
HARD_LIMIT = 8 * 2**20  # bodies past this are refused unread; smaller ones are read, then judged by api_max_bytes


def api_error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
    from fastapi.responses import JSONResponse

    headers = {"Retry-After": "5"} if status in (429, 503) else None
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}},
                        status_code=status, headers=headers)


class BadRequest(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.code = status, kind, code


def qa_extra(answer: Answer) -> dict:
    """The documented extra field: the checked answer and what it rests on.

    >>> from qa import Timings
    >>> qa_extra(Answer.from_reply("Q?", "The documents do not say.", (), True, Timings()))["abstained"]
    True
    """
    def quote(n: int) -> str:
        return next((s.evidence for s in answer.support if n in s.cited and s.evidence), "")

    return {"answer": answer.text, "abstained": answer.abstained, "confidence": answer.confidence,
            "citations": [{**c.to_dict(), "quote": quote(c.n)} for c in answer.citations],
            "notes": list(answer.notes)}


def parse_chat(body, models: list[str]) -> tuple[str, str, list[str], int | None, str | None, bool]:
    """(model, question, earlier questions, k, search, stream) from a chat-completions body, or
    `BadRequest` saying what is wrong.

    >>> parse_chat({"model": "qa", "messages": [{"role": "user", "content": "Hi?"}]}, ["qa"])[:3]
    ('qa', 'Hi?', [])
    """
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(400, "'model' is required (GET /v1/models lists them)", code="missing_model")
    if model not in models:
        raise BadRequest(404, f"the model {model!r} does not exist; use one of {', '.join(models)}",
                         code="model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest(400, "'messages' must be a non-empty list of {role, content}", code="missing_messages")
    texts = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise BadRequest(400, "each message needs a 'role' and a 'content'")
        texts.append((m["role"], _text(m.get("content"))))
    if texts[-1][0] != "user" or not texts[-1][1].strip():
        raise BadRequest(400, "the last message must be the user's question, with text")
    k, search = body.get("k"), body.get("search")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 20):
        raise BadRequest(400, "'k' must be a whole number from 1 to 20")
    if search is not None and search not in MODES:
        raise BadRequest(400, f"'search' must be one of {', '.join(MODES)}")
    earlier = [t for role, t in texts[:-1] if role == "user" and t.strip()]
    return model, texts[-1][1], earlier, k, search, bool(body.get("stream"))


def _text(content) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if content is None:
        return ""
    raise BadRequest(400, "a message's 'content' must be a string or a list of text parts")


def completion(answer: Answer, model: str, ident: str, created: int) -> dict:
    t = answer.timings
    return {"id": ident, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": t.prompt_tokens, "completion_tokens": t.generated_tokens,
                      "total_tokens": t.prompt_tokens + t.generated_tokens},
            "qa": qa_extra(answer)}


def chunk(model: str, ident: str, created: int, delta: dict, finish: str | None = None, **extra) -> str:
    data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def correction(streamed: str, answer: Answer) -> str:
    """What a stream adds at its end when the check changed the draft it already sent (as `qa ask`
    prints it); nothing when the draft stands.

    >>> from qa import Timings
    >>> correction("Lavrov [1].", Answer.from_reply("Q", "Lavrov [1].", (), False, Timings()))
    ''
    """
    if answer.text == streamed.strip():
        return ""
    return f"\n\nAfter checking each sentence against its source: {answer.text}"


class Gate:
    """At most `size` requests in progress or waiting; the next is turned away at once (429)."""

    def __init__(self, size: int):
        self._slots = threading.BoundedSemaphore(size)
        self.size = size

    def enter(self) -> bool:
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()


def build_api(chat, settings):
    """A FastAPI app with the /v1 routes over `chat` (a `ui.app.ChatApp`: its index and assistants)."""
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse
    from starlette.concurrency import run_in_threadpool

    api = FastAPI(title="qa: the assistant as an OpenAI-compatible API", docs_url=None, redoc_url=None,
                  openapi_url=None)
    gate = Gate(settings.api_queue)
    key = os.environ.get("QA_API_KEY") or ""

    def models() -> dict[str, str]:
        found = {"qa": settings.profile}
        found.update({f"qa-{p}": p for p in chat.profiles()})
        return found

    @api.middleware("http")
    async def guard(request: Request, call_next):
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)  # the chat page and its own routes
        if key:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
                return api_error(401, "a wrong or missing API key: send Authorization: Bearer $QA_API_KEY",
                                 "authentication_error", "invalid_api_key")
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > HARD_LIMIT):  # not even read
            return api_error(413, f"the request is larger than {settings.api_max_bytes} bytes")
        return await call_next(request)

    async def read(request: Request):
        raw = await request.body()
        if len(raw) > settings.api_max_bytes:
            raise BadRequest(413, f"the request is larger than {settings.api_max_bytes} bytes")
        try:
            return json.loads(raw)
        except ValueError:
            raise BadRequest(400, "the body is not valid JSON") from None

    def failure(exc: Exception):
        if isinstance(exc, BadRequest):
            return api_error(exc.status, str(exc), exc.kind, exc.code)
        if isinstance(exc, ModelServerError):
            return api_error(503, str(exc), "server_error", "model_server")
        if isinstance(exc, ValueError):
            return api_error(400, str(exc))
        return api_error(500, str(exc), "server_error")

    busy = (f"the assistant is busy: {settings.api_queue} requests are in progress or waiting; "
            f"try again in a few seconds")

    @api.get("/v1/models")
    async def list_models():
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "qa"}
                                           for m in models()]}

    @api.post("/v1/search")
    async def search(request: Request):
        try:
            body = await read(request)
            if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
                raise BadRequest(400, "'query' (a non-empty string) is required")
            _, _, _, k, mode, _ = parse_chat({"model": "qa", "messages": [{"role": "user", "content": "x"}],
                                              "k": body.get("k"), "search": body.get("search")}, ["qa"])
        except BadRequest as exc:
            return failure(exc)
        if not gate.enter():
            return api_error(429, busy, "rate_limit_error", "busy")
        try:
            found = await run_in_threadpool(chat.index.search, body["query"], k or settings.k, mode or settings.search)
        except (SearchIndexError, ValueError) as exc:
            return failure(exc)
        finally:
            gate.leave()
        return {"object": "list", "data": [p.to_dict() for p in found]}

    @api.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            model, question, earlier, k, mode, stream = parse_chat(await read(request), list(models()))
        except BadRequest as exc:
            return failure(exc)
        if not gate.enter():
            return api_error(429, busy, "rate_limit_error", "busy")
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        assistant = chat.assistant(models()[model])

        def items():
            retrieval = assistant.retrieve(question, k, earlier, mode)
            yield from assistant.stream(question, k, earlier, retrieval=retrieval)

        it = items()
        try:
            first = await run_in_threadpool(next, it, DONE)  # errors before the first word get a status
        except (QAError, SearchIndexError, ValueError) as exc:
            gate.leave()
            return failure(exc)
        except BaseException:
            gate.leave()
            raise
        if not stream:
            try:
                answer = first
                while not isinstance(answer, Answer) and answer is not DONE:
                    answer = await run_in_threadpool(next, it, DONE)
                if answer is DONE:
                    raise QAError("the assistant ended without an answer")
            except (QAError, SearchIndexError, ValueError) as exc:
                return failure(exc)
            finally:
                _close(it)
                gate.leave()
            return completion(answer, model, ident, created)

        async def events():
            streamed = ""
            try:
                yield chunk(model, ident, created, {"role": "assistant", "content": ""})
                item = first
                while item is not DONE:
                    if isinstance(item, Answer):
                        extra = correction(streamed, item)
                        if extra:
                            yield chunk(model, ident, created, {"content": extra})
                        yield chunk(model, ident, created, {}, "stop", qa=qa_extra(item))
                        break
                    if item:  # "" is work in progress with nothing to show (the client may leave)
                        streamed += item
                        yield chunk(model, ident, created, {"content": item})
                    item = await run_in_threadpool(next, it, DONE)
                else:  # the stream ran out without the checked Answer
                    raise QAError("the assistant ended without an answer")
                yield "data: [DONE]\n\n"
            except (QAError, SearchIndexError, ValueError) as exc:
                kind = "model_server" if isinstance(exc, ModelServerError) else None
                yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error', 'code': kind}})}\n\n"
            finally:
                _close(it)  # the client left or the answer is done: stop generating
                gate.leave()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return api


def _close(it) -> None:
    """Stop a generator (releasing the model's lock and closing a server stream). One still running
    in a worker thread (its client left mid-word) is closed as soon as that word is out."""
    try:
        it.close()
    except ValueError:  # "generator already executing"
        def later():
            for _ in range(12000):
                time.sleep(0.05)
                try:
                    it.close()
                    return
                except ValueError:
                    continue
        threading.Thread(target=later, daemon=True).start()
