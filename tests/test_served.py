"""The assistant through llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`,
started here on 127.0.0.1 with the default profile's GGUF), and the assistant's own API called with
the `openai` client. Slow: several minutes on 2 shared cores."""
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from openai import OpenAI

from qa import Settings
from qa.catalogue import resolve_gguf
from qa.prompt import ABSTAIN_START, build_messages, passages_check

from .test_remote import free_port

pytestmark = pytest.mark.slow
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DOCTOR_NO = 'Who is nicknamed "Doctor No"?'
N_CTX = 2048  # the server's window; llama-cpp-python's server does not report it, so QA_N_CTX says it


@pytest.fixture(scope="module")
def gguf():
    return resolve_gguf("", "default", Settings.from_env({}).cache_dir)


@pytest.fixture(scope="module")
def llama_server(gguf, tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("llama") / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", "2",
                             "--model_alias", "qwen2.5-coder-1.5b"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 300
    while True:
        try:
            urllib.request.urlopen(url + "/models", timeout=5).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"llama_cpp.server did not start: see {log.name}")
            time.sleep(1)
    yield url
    proc.terminate()
    proc.wait(30)
    log.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """One index of the seed, shared (built by the first user)."""
    from .conftest import SEED

    corpus = tmp_path_factory.mktemp("seeds")
    (corpus / SEED.name).write_bytes(SEED.read_bytes())
    return {"QA_DATA_DIR": str(tmp_path_factory.mktemp("data")), "QA_SEEDS": str(corpus)}


def test_same_replies_and_probabilities_as_in_process(llama_server, gguf):
    """Over HTTP the same model gives the same greedy reply, the same token count and the same yes/no
    probability as in this process (the abstention-start probability is an upper bound)."""
    from qa.generator import LlamaGenerator
    from qa.remote import RemoteGenerator

    local, remote = LlamaGenerator(gguf, N_CTX, 2, 64), RemoteGenerator(llama_server, n_ctx=N_CTX, max_tokens=64)
    messages = build_messages(DOCTOR_NO, ['No Moscow\'s response was repeated by Sergei Lavrov, the foreign minister, '
                                          'colloquially known as "Doctor No" for his habit of rejecting Western initiatives.'])
    assert "exact" in remote.offers.counting and remote.has_probabilities and remote.can_avoid
    assert remote.count_tokens(messages) == local.count_tokens(messages) - 1  # the local count adds a BOS
    assert "".join(remote.stream(messages)) == "".join(local.stream(messages))
    assert remote.yes_probability(passages_check(messages)) == pytest.approx(
        local.yes_probability(passages_check(messages)), abs=0.02)
    assert remote.reply_probability(messages, ABSTAIN_START) >= local.reply_probability(messages, ABSTAIN_START) - 0.01
    avoid = ("Sergei",)
    assert not "".join(remote.stream(messages, avoid)).startswith("Sergei")


def test_qa_ask_through_the_server(llama_server, data):
    from .conftest import SEED

    env = {**os.environ, **data, "QA_LLM_URL": llama_server, "QA_N_CTX": str(N_CTX)}
    out = subprocess.run([sys.executable, "-m", "ui.cli", "ask", "--json", DOCTOR_NO],
                         capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    answer = json.loads(out.stdout)
    assert "Lavrov" in answer["answer"] and answer["abstained"] is False
    assert answer["citations"][0]["doc"] == SEED.name and answer["citations"][0]["paragraph"] == 3
    assert answer["confidence"] is not None and answer["confidence"] >= 0.5


def test_openai_client_against_qa_serve(llama_server, data):
    from ui.app import serve, stop

    settings = Settings.from_env(data, llm_url=llama_server, n_ctx=N_CTX)
    port = free_port()
    _, app = serve(settings, "127.0.0.1", port, block=False)
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=900)
    try:
        # the user's Stop: the stream is dropped after its first words; nothing is lost for the next one
        stream = client.chat.completions.create(model="qa", stream=True,
                                                messages=[{"role": "user", "content": DOCTOR_NO}])
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        stream.close()

        chunks = list(client.chat.completions.create(model="qa", stream=True,
                                                     messages=[{"role": "user", "content": DOCTOR_NO}]))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        extra = chunks[-1].model_extra["qa"]
        assert "Lavrov" in text and not extra["abstained"] and "Lavrov" in extra["answer"]
        assert extra["citations"][0]["paragraph"] == 3 and "Doctor No" in extra["citations"][0]["quote"]

        reply = client.chat.completions.create(
            model="qa", messages=[{"role": "user", "content": "What is the population of Sevastopol?"}])
        assert reply.model_extra["qa"]["abstained"] is True and reply.model_extra["qa"]["citations"] == []
        assert reply.choices[0].message.content == "The documents do not say."
    finally:
        stop(app.server)


def test_qa_ask_with_the_server_down_is_one_line(data):
    env = {**os.environ, **data, "QA_LLM_URL": f"http://127.0.0.1:{free_port()}/v1", "QA_LLM_RETRIES": "0"}
    out = subprocess.run([sys.executable, "-m", "ui.cli", "ask", DOCTOR_NO], capture_output=True, text=True,
                         env=env, timeout=600)
    errors = [line for line in out.stderr.splitlines() if line.startswith("qa: error:")]
    assert out.returncode == 1 and len(errors) == 1 and "cannot be reached" in errors[0]
    assert "Traceback" not in out.stderr



def test_embedder_shared_by_threads():
    """Many API clients at once embed and count tokens from many threads: counting (no truncation,
    no padding) must not change the tokenizer under a batch being encoded (bench/load.py found that
    race: "Unable to create tensor ... activate truncation and/or padding")."""
    from concurrent.futures import ThreadPoolExecutor

    from index import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    texts = ["Lavrov said no. " * (1 + i % 8) for i in range(64)]

    def work(i: int):
        if i % 2:
            return embedder.count_tokens(texts[i % 64] * 60)  # past the window: counted untruncated
        return embedder.embed(texts[i % 64: i % 64 + 8]).shape[1]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(work, range(600)))
    assert all(r == 384 for r in results[::2]) and all(r > 256 for r in results[1::2])
