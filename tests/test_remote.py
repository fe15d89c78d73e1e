"""The HTTP generator against a scripted OpenAI-compatible server on 127.0.0.1 (real sockets, the
real `openai` client, no model): answers, confidence, the degraded mode without log-probabilities,
and one-line errors for a server that is down, slow or answers garbage."""
import socket

import pytest

from qa import Assistant, Settings
from qa.errors import ModelServerError
from qa.prompt import ABSTAIN, build_messages
from qa.remote import RemoteGenerator, chatml, estimate_tokens

from .fake_openai import FakeOpenAIServer

QUESTION = "Who is the foreign minister known as Doctor No?"


@pytest.fixture
def fake():
    server = FakeOpenAIServer()
    yield server
    server.close()


def remote(url, **kw):
    return RemoteGenerator(url, **{"timeout": 5, "retries": 0, **kw})


def ask(settings, seed_index, generator, question=QUESTION):
    return Assistant(settings, seed_index, generator).ask(question)


def test_answers_with_checked_citation_and_confidence(settings, seed_index, fake):
    gen = remote(fake.url)
    answer = ask(settings, seed_index, gen)
    assert not answer.abstained and "Lavrov" in answer.text and answer.citations
    assert answer.confidence is not None and answer.signals["passages_yes"] == pytest.approx(0.9, abs=1e-3)
    assert gen.offers.counting.startswith("the server's /extras/tokenize") and gen.offers.model == "scripted"
    streamed = [b for b in fake.chats() if b.get("stream")]
    assert streamed and streamed[0]["temperature"] == 0.0 and streamed[0]["model"] == "scripted"


def test_without_logprobs_no_confidence_and_the_checks_decide(settings, seed_index):
    """What is lost without log-probabilities: the confidence; the model's own abstention and the
    citation check still withhold answers."""
    server = FakeOpenAIServer(logprobs=False, tokenize=False)
    try:
        gen = remote(server.url)
        answer = ask(settings, seed_index, gen)
        assert not gen.has_probabilities and answer.confidence is None and not answer.abstained
        assert "estimate" in gen.offers.counting
        server.reply = ABSTAIN
        answer = ask(settings, seed_index, gen)
        assert answer.abstained and answer.text == ABSTAIN and answer.confidence is None
        assert not any(b.get("logprobs") for b in server.chats()[1:])  # no probe was sent after the first look
        server.reply = "Bananas grow on tall plants in Ecuador [1]."
        answer = ask(settings, seed_index, gen)
        assert answer.abstained and any("not supported" in n for n in answer.notes)
    finally:
        server.close()


def test_budget_never_overflows_the_servers_window(settings, seed_index):
    server = FakeOpenAIServer(n_ctx=700, tokenize=False)  # estimate: one token per byte, so few passages fit
    try:
        gen = remote(server.url, n_ctx=700, max_tokens=300)
        answer = Assistant(settings.but(max_tokens=300, n_ctx=700), seed_index, gen).ask(QUESTION)
        assert all(estimate_tokens(b["messages"]) + 300 <= 700 for b in server.chats() if b.get("stream"))
        assert answer.text  # answered or abstained, but no 400 from the server
    finally:
        server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_one_clear_line(settings, seed_index):
    gen = remote(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ModelServerError, match="cannot be reached.*is it running") as err:
        ask(settings, seed_index, gen)
    assert "\n" not in str(err.value)


def test_slow_server_times_out_with_a_message(settings, seed_index):
    server = FakeOpenAIServer(mode="slow", delay=3)
    try:
        gen = remote(server.url, timeout=0.5)
        with pytest.raises(ModelServerError, match=r"did not answer within 0.5 s.*QA_LLM_TIMEOUT"):
            ask(settings, seed_index, gen)
    finally:
        server.close()


def test_garbage_is_a_clear_error(settings, seed_index):
    server = FakeOpenAIServer(mode="garbage")
    try:
        with pytest.raises(ModelServerError, match="not in the OpenAI format"):
            ask(settings, seed_index, remote(server.url))
        gen = remote(server.url)
        gen._offers = remote(FakeOpenAIServer().url).offers  # a server that broke after the first look
        with pytest.raises(ModelServerError, match="not in the OpenAI format"):
            list(gen.stream(build_messages("Q?", ["A."])))
    finally:
        server.close()


def test_unknown_model_is_named(fake):
    with pytest.raises(ModelServerError, match="no model 'gpt-9'.*scripted.*QA_LLM_MODEL"):
        remote(fake.url, model="gpt-9").count_tokens(build_messages("Q?", []))


def test_key_comes_from_the_environment_only(fake, monkeypatch):
    monkeypatch.setenv("QA_LLM_API_KEY", "sekret-123")
    gen = remote(fake.url)
    assert "sekret" not in repr(gen) and gen.client.api_key == "sekret-123"
    settings = Settings.from_env({"QA_LLM_URL": fake.url, "QA_LLM_API_KEY": "sekret-123"})
    assert "sekret" not in repr(settings) and settings.llm_url == fake.url


def test_chat_shows_a_down_server_as_one_line(settings, seed_index):
    import gradio as gr

    from ui.app import ChatApp

    app = ChatApp(settings, seed_index, remote(f"http://127.0.0.1:{free_port()}/v1"))
    with pytest.raises(gr.Error, match="cannot be reached"):
        list(app.respond(QUESTION, [], 3, "default"))


def test_bad_url_is_a_settings_error():
    from qa.errors import SettingsError

    with pytest.raises(SettingsError, match="http"):
        Settings.from_env({"QA_LLM_URL": "127.0.0.1:8080"})


@pytest.mark.parametrize("flavour, counting", [("llama.cpp", "/apply-template and /tokenize (exact)"),
                                               ("vllm", "/tokenize with the chat template (exact)")])
def test_server_tokenizers_and_windows(flavour, counting):
    server = FakeOpenAIServer(flavour=flavour, n_ctx=1234)
    try:
        gen = remote(server.url)
        messages = build_messages("Who?", ["Lavrov [1]."])
        assert counting in gen.offers.counting and gen.n_ctx == 1234
        assert gen.count_tokens(messages) == len(chatml(messages).split())
        assert gen.can_avoid == (flavour == "llama.cpp")
    finally:
        server.close()


def test_avoid_forbids_the_first_token_only(settings, seed_index):
    """The model abstained but the checks say the passages answer: the retry goes to /v1/completions
    over the server's own prompt with the abstention's first tokens at logit_bias -100."""
    server = FakeOpenAIServer(flavour="llama.cpp", reply=ABSTAIN, yes=0.97,
                              retry="Sergei Lavrov is colloquially known as Doctor No [1].")
    try:
        answer = ask(settings, seed_index, remote(server.url))
        biased = [b for p, b in server.requests if p == "/v1/completions" and b.get("logit_bias")]
        assert biased and set(biased[0]["logit_bias"].values()) == {-100}
        assert answer.signals["retried"] == 1 and "Lavrov" in answer.text and not answer.abstained
    finally:
        server.close()


def test_without_avoid_the_abstention_stands(settings, seed_index):
    server = FakeOpenAIServer(flavour="vllm", reply=ABSTAIN, yes=0.97)
    try:
        answer = ask(settings, seed_index, remote(server.url))
        assert answer.abstained and answer.signals["retried"] == 0
        assert not any(p == "/v1/completions" for p, _ in server.requests)
    finally:
        server.close()
