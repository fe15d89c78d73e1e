"""The assistant's OpenAI-compatible API (ui/api.py), served by uvicorn on 127.0.0.1 and called with
the real `openai` client; the assistant runs with fakes (the slow tests run it with real models)."""
import json
import socket
import threading
import urllib.error
import urllib.request

import openai
import pytest
from openai import OpenAI

from qa.prompt import ABSTAIN
from ui.app import ChatApp, asgi, build, start

from .fakes import ScriptedGenerator
from .test_remote import free_port, remote

QUESTION = "Who is the foreign minister known as Doctor No?"
LAVROV = "Sergei Lavrov is colloquially known as Doctor No [1]."


def serve_api(chat, page=False):
    from ui.api import build_api

    port = free_port()
    app = asgi(chat, build(chat), "127.0.0.1", port) if page else build_api(chat, chat.settings)
    server = start(app, "127.0.0.1", port, block=False)
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from index import Index
    from qa import Settings

    from .conftest import SEED
    from .fakes import HashEmbedder

    root = tmp_path_factory.mktemp("api")
    index = Index.open(root / "data", HashEmbedder(), create=True)
    index.sync([SEED])
    settings = Settings.from_env({}, data_dir=root / "data", cache_dir=root / "cache", min_score=0.05)
    generator = ScriptedGenerator(LAVROV)
    server, url = serve_api(ChatApp(settings, index, generator))
    yield url, generator
    server.should_exit = True


@pytest.fixture
def served(shared):
    url, generator = shared
    generator.reply, generator.yes = LAVROV, 0.9
    return url, generator


def client(url, key="unused"):
    return OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def post(url, body: bytes, headers=None):
    request = urllib.request.Request(url, body, {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_models_and_the_page_on_one_port(settings, seed_index):
    server, url = serve_api(ChatApp(settings, seed_index, ScriptedGenerator(LAVROV)), page=True)
    try:
        assert {"qa", "qa-default"} <= {m.id for m in client(url).models.list().data}
        with urllib.request.urlopen(url + "/", timeout=30) as r:
            assert b"<html" in r.read()[:200].lower()
    finally:
        server.should_exit = True


def test_answer_with_citations_in_the_extra_field(served):
    url, _ = served
    reply = client(url).chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
    text = reply.choices[0].message.content
    assert "Lavrov" in text and "[" in text
    extra = reply.model_extra["qa"]
    assert extra["abstained"] is False and extra["confidence"] is not None and extra["answer"] == text
    cited = extra["citations"][0]
    assert cited["paragraph"] == 3 and cited["doc"].endswith(".txt") and cited["title"]
    assert "Doctor No" in cited["quote"] and cited["quote"] in cited["text"] and f"[{cited['n']}]" in text


def test_streamed_answer_then_the_extra_field(served):
    url, _ = served
    chunks = list(client(url).chat.completions.create(
        model="qa-default", stream=True, messages=[{"role": "user", "content": QUESTION}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len(chunks) > 3 and "Lavrov" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.model_extra["qa"]["citations"]
    assert text.strip().endswith(last.model_extra["qa"]["answer"])  # the checked text closes the stream


def test_abstention_streamed(served):
    url, generator = served
    generator.reply, generator.yes = ABSTAIN, 0.01
    chunks = list(client(url).chat.completions.create(
        model="qa", stream=True, messages=[{"role": "user", "content": "What is the population of Sevastopol?"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks).strip() == ABSTAIN
    extra = chunks[-1].model_extra["qa"]
    assert extra["abstained"] is True and extra["citations"] == []


def test_history_makes_the_follow_up(served):
    url, generator = served
    client(url).chat.completions.create(model="qa", messages=[
        {"role": "system", "content": "ignored"}, {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": LAVROV}, {"role": "user", "content": "And what did he say about it?"}])
    assert f"Follow-up to: {QUESTION}" in generator.prompts[-1][-1]["content"]


def test_search_returns_passages(served):
    url, _ = served
    status, body = post(url + "/v1/search", json.dumps({"query": "Doctor No", "k": 2}).encode())
    assert status == 200 and len(body["data"]) == 2 and {"doc", "paragraph", "text", "score"} <= set(body["data"][0])
    assert post(url + "/v1/search", b"{}")[0] == 400


@pytest.mark.parametrize("body, status, says", [
    ({"messages": [{"role": "user", "content": "Q?"}]}, 400, "'model' is required"),
    ({"model": "qa"}, 400, "'messages'"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "Q?"}]}, 404, "does not exist"),
    ({"model": "qa", "messages": [{"role": "assistant", "content": "Hi"}]}, 400, "last message"),
    ({"model": "qa", "messages": [{"role": "user", "content": "Q?"}], "k": 0}, 400, "'k'"),
    ({"model": "qa", "messages": [{"role": "user", "content": "x" * 2**20}]}, 413, "larger than"),
])
def test_bad_requests_get_4xx_with_a_message(served, body, status, says):
    got, answer = post(served[0] + "/v1/chat/completions", json.dumps(body).encode())
    assert got == status and says in answer["error"]["message"]


def test_not_json_is_400(served):
    got, answer = post(served[0] + "/v1/chat/completions", b"{nope")
    assert got == 400 and "JSON" in answer["error"]["message"]


def test_bearer_token(settings, seed_index, monkeypatch):
    monkeypatch.setenv("QA_API_KEY", "team-secret")
    server, url = serve_api(ChatApp(settings, seed_index, ScriptedGenerator(LAVROV)))
    try:
        with pytest.raises(openai.AuthenticationError, match="API key"):
            client(url, "wrong").models.list()
        assert client(url, "team-secret").models.list().data
    finally:
        server.should_exit = True


class Blocking(ScriptedGenerator):
    """Holds every reply until `go` is set (a model busy with a long answer)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.go, self.started = threading.Event(), threading.Event()

    def stream(self, messages, avoid=()):
        self.started.set()
        self.go.wait(20)
        yield from super().stream(messages, avoid)


def test_busy_is_429_with_a_message(settings, seed_index):
    generator = Blocking(LAVROV)
    server, url = serve_api(ChatApp(settings.but(api_queue=1), seed_index, generator))
    try:
        results = []
        first = threading.Thread(target=lambda: results.append(client(url).chat.completions.create(
            model="qa", messages=[{"role": "user", "content": QUESTION}])))
        first.start()
        assert generator.started.wait(20)
        with pytest.raises(openai.RateLimitError, match="busy"):
            client(url).chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
        generator.go.set()
        first.join(20)
        assert "Lavrov" in results[0].choices[0].message.content  # the one in progress was not lost
    finally:
        server.should_exit = True


def test_model_server_down_is_503_with_a_message(settings, seed_index):
    chat = ChatApp(settings, seed_index, remote(f"http://127.0.0.1:{free_port()}/v1"))
    server, url = serve_api(chat)
    try:
        with pytest.raises(openai.InternalServerError, match="cannot be reached"):
            client(url).chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])
        with pytest.raises(openai.InternalServerError, match="cannot be reached"):
            list(client(url).chat.completions.create(model="qa", stream=True,
                                                     messages=[{"role": "user", "content": QUESTION}]))
    finally:
        server.should_exit = True


def test_free_port_helper_gives_a_closed_port():
    port = free_port()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_an_answer_that_ends_without_its_result_is_an_error_both_ways(settings, seed_index, monkeypatch):
    """A stream of words that stops before the checked Answer (a broken generator) must end in an
    error, streamed or not, never in a reply that looks complete."""
    from qa import Assistant

    def words_only(self, question, *args, **kwargs):
        yield "Sergei Lavrov is "

    monkeypatch.setattr(Assistant, "stream", words_only)
    server, url = serve_api(ChatApp(settings, seed_index, ScriptedGenerator(LAVROV)))
    try:
        messages = [{"role": "user", "content": QUESTION}]
        with pytest.raises(openai.APIError, match="ended without an answer"):
            client(url).chat.completions.create(model="qa", messages=messages)
        with pytest.raises(openai.APIError, match="ended without an answer"):
            list(client(url).chat.completions.create(model="qa", stream=True, messages=messages))
    finally:
        server.should_exit = True
