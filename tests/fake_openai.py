"""A tiny OpenAI-compatible HTTP server with scripted replies, on 127.0.0.1, for the fast tests of
the HTTP generator: real sockets and the real `openai` client, no model. It can also be broken on
purpose: `mode="garbage"` answers nonsense, `mode="slow"` waits `delay` seconds before answering.

Tokens are whitespace-separated words of the ChatML rendering; it rejects a prompt over `n_ctx`
with a 400, as llama.cpp does, and records every request body it gets."""
from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from qa.remote import chatml


class FakeOpenAIServer:
    def __init__(self, reply="Sergei Lavrov is known as Doctor No [1].", yes=0.9, logprobs=True,
                 tokenize=True, n_ctx=4096, mode="ok", delay=0.0, flavour="llama-cpp-python", retry=""):
        self.reply, self.yes, self.logprobs, self.tokenize = reply, yes, logprobs, tokenize
        self.n_ctx, self.mode, self.delay, self.flavour, self.retry = n_ctx, mode, delay, flavour, retry
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/v1/models":
                    model = {"id": "scripted", "object": "model", "owned_by": "test"}
                    if server.flavour == "vllm":
                        model["max_model_len"] = server.n_ctx
                    return self._json({"object": "list", "data": [model]})
                if self.path == "/props" and server.flavour == "llama.cpp":
                    return self._json({"default_generation_settings": {"n_ctx": server.n_ctx}})
                self._json({"detail": "Not Found"}, 404)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append((self.path, body))
                flavour = server.flavour
                if self.path == "/extras/tokenize" and server.tokenize and flavour == "llama-cpp-python":
                    return self._json({"tokens": list(range(len(body["input"].split())))})
                if self.path == "/apply-template" and flavour == "llama.cpp":
                    return self._json({"prompt": chatml(body["messages"])})
                if self.path == "/tokenize" and flavour == "llama.cpp":
                    return self._json({"tokens": list(range(len(body["content"].split())))})
                if self.path == "/tokenize" and flavour == "vllm":
                    size = len(chatml(body["messages"]).split())
                    return self._json({"count": size, "max_model_len": server.n_ctx, "tokens": list(range(size))})
                if self.path == "/v1/completions" and flavour == "llama.cpp":
                    return server._completion(self, body)
                if self.path == "/v1/chat/completions":
                    return server._chat(self, body)
                self._json({"detail": "Not Found"}, 404)

            def _json(self, data, status=200):
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def chats(self) -> list[dict]:
        return [b for p, b in self.requests if p == "/v1/chat/completions"]

    def _chat(self, handler, body):
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "garbage":
            raw = b"<html>502 proxy error, not JSON</html>" if not body.get("stream") else b"data: {not json\n\n"
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream" if body.get("stream") else "application/json")
            handler.send_header("Content-Length", str(len(raw)))
            handler.end_headers()
            handler.wfile.write(raw)
            return
        size = len(chatml(body["messages"]).split())
        if size + body.get("max_tokens", 0) > self.n_ctx:
            return handler._json({"error": {"message": f"Requested tokens ({size}) exceed context window of "
                                            f"{self.n_ctx}", "type": "invalid_request_error"}}, 400)
        text = self.reply(body["messages"]) if callable(self.reply) else self.reply
        if body.get("max_tokens") == 1:
            text = text.split()[0] if text.split() else ""
        base = {"id": "chatcmpl-1", "created": int(time.time()), "model": "scripted"}
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            if body.get("logprobs") and self.logprobs:
                yes = self.yes(body["messages"]) if callable(self.yes) else self.yes
                top = [{"token": "Yes", "logprob": math.log(yes), "bytes": None},
                       {"token": "No", "logprob": math.log(1 - yes), "bytes": None}]
                choice["logprobs"] = {"content": [{"token": w, "logprob": -0.1, "bytes": None, "top_logprobs": top}
                                                  for w in (text.split() or ["Yes"])[: body.get("max_tokens", 1)]]}
            usage = {"prompt_tokens": size, "completion_tokens": len(text.split()), "total_tokens": size}
            return handler._json({**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for word in text.split(" "):
            chunk = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
            handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            handler.wfile.flush()
        handler.wfile.write(b"data: [DONE]\n\n")

    def _completion(self, handler, body):
        """llama.cpp's raw-prompt completion: with a `logit_bias`, the scripted `retry` reply."""
        words = (self.retry if body.get("logit_bias") or body["prompt"].endswith(self.retry.split(" ")[0])
                 else self.reply).split(" ")
        base = {"id": "cmpl-1", "created": int(time.time()), "model": "scripted"}
        if not body.get("stream"):
            choice = {"index": 0, "text": words[0], "finish_reason": "length", "logprobs": None}
            return handler._json({**base, "object": "text_completion", "choices": [choice]})
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        for word in words[1:]:
            chunk = {**base, "object": "text_completion",
                     "choices": [{"index": 0, "text": " " + word, "finish_reason": None, "logprobs": None}]}
            handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")
