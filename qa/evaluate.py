"""`qa eval`: run a question set through the very same `Assistant` the chat uses (and, with
`--baseline naive`, through the plain pipeline most RAG tools ship), then score it."""
from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from index import Index, Passage, SentenceTransformerEmbedder
from index.build import collect, file_hash

from .answer import Answer
from .assistant import Assistant
from .citations import cited_numbers
from .errors import QAError
from .metrics import Row, correct, hit_curve, retrieval, summary
from .prompt import ABSTAIN, is_abstention
from .settings import Settings

NAIVE_SYSTEM = ("Answer the question using the documents below. Cite the documents you use by their "
                f"number, like [1]. If the documents do not contain the answer, say: {ABSTAIN}")


class EvalError(QAError):
    """The evaluation set is missing or not in the expected format."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list
    gold: list
    answerable: bool


def load_set(set_dir: Path) -> tuple[Path, list[Question]]:
    corpus, path = Path(set_dir) / "corpus", Path(set_dir) / "questions.jsonl"
    if not corpus.is_dir() or not path.is_file():
        raise EvalError(f"{set_dir} is not an evaluation set: it needs corpus/ and questions.jsonl")
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(Question(str(row["id"]), row["question"], row.get("answers", []),
                                      row.get("gold", []), bool(row.get("answerable", True))))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalError(f"{path}:{n}: not a question line ({exc})") from exc
    return corpus, questions


def sample(questions: list[Question], limit: int | None, seed: int = 0) -> list[Question]:
    """A fixed, seeded sample in file order, so that runs with the same limit are comparable.

    >>> [q.id for q in sample([Question(str(i), "", [], [], True) for i in range(5)], 2)]
    ['3', '4']
    """
    if not limit or limit >= len(questions):
        return list(questions)
    keep = set(random.Random(seed).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in keep]


def development_sample(set_dir: Path, questions: list[Question], limit: int, seed: int) -> list[Question]:
    """Answerable questions of a seeded sample for tuning; for RealTimeQA, without the 200 of the
    reported sample (`--limit 200`, seed 0), so that constants are not tuned on reported figures."""
    held_out = {q.id for q in sample(questions, 200, 0)} if "realtimeqa" in str(set_dir) else set()
    return [q for q in sample(questions, limit, seed) if q.answerable and q.id not in held_out]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def is_gold(passage: Passage, gold: list) -> list[bool]:
    """For each gold item: does the passage come from its document and contain its quote?"""
    text = _norm(passage.text)
    return [passage.doc == g["doc"] and _norm(g["quote"]) in text for g in gold]


def eval_index(corpus: Path, settings: Settings, embedder, chunking: str, progress: bool) -> tuple[Index, dict]:
    """An index of the set's corpus, cached under the data folder by corpus content, embedder and
    chunking, apart from the user's own index."""
    sources, _ = collect([corpus])
    digest = hashlib.sha256(f"{embedder.name}\n{chunking}\n".encode())
    for s in sources:
        digest.update(f"{s.doc}\t{file_hash(s.path)}\n".encode())
    folder = Path(settings.data_dir) / "eval" / digest.hexdigest()[:16]
    stats_path = folder / "build.json"
    if stats_path.exists():
        return Index.open(folder, embedder), json.loads(stats_path.read_text())
    index = Index.open(folder, embedder, create=True, chunking=chunking)
    report = index.sync([corpus], progress=progress)
    stats = {"seconds": round(report.seconds, 2), "documents": len(index.documents()), "passages": len(index),
             "passages_per_s": round(len(index) / report.seconds, 1) if report.seconds else None,
             "skipped": report.skipped}
    stats_path.write_text(json.dumps(stats))
    return index, stats


def _row(q: Question, index: Index, mode: str) -> Row:
    ranked = index.search(q.question, 10, mode)
    flags = [is_gold(p, q.gold) for p in ranked]
    found_at = [next((i + 1 for i, f in enumerate(flags) if f[g]), 0) for g in range(len(q.gold))]
    return Row(q.id, q.question, q.answerable, q.answers, [any(f) for f in flags], len(q.gold), found_at)


def run_ours(assistant: Assistant, q: Question, k: int, row: Row) -> dict:
    answer: Answer = assistant.ask(q.question, k)
    t = answer.timings
    row.reply, row.abstained = answer.text, answer.abstained
    row.cited_gold = [any(is_gold(c.passage, q.gold)) for c in answer.citations]
    row.ttft, row.total, row.prompt_tokens, row.generated_tokens = (t.first_token_s, t.total_s, t.prompt_tokens,
                                                                     t.generated_tokens)
    return {"citations": [c.passage.ref for c in answer.citations], "notes": list(answer.notes),
            "signals": answer.signals, "support": [asdict(s) for s in answer.support]}


def run_naive(index: Index, generator, q: Question, k: int, row: Row, max_tokens: int) -> dict:
    """The yardstick: dense top-k of raw paragraphs pasted into a prompt; no floor, no checks."""
    started = time.perf_counter()
    passages = index.search(q.question, k, "dense")
    blocks = "\n\n".join(f"[{i}] {p.text}" for i, p in enumerate(passages, start=1))
    messages = [{"role": "system", "content": NAIVE_SYSTEM},
                {"role": "user", "content": f"Documents:\n{blocks}\n\nQuestion: {q.question}"}]
    # the yardstick too must not overflow the window: keep dropping the last passage until it fits
    while passages and generator.count_tokens(messages) + max_tokens > generator.n_ctx:
        passages = passages[:-1]
        blocks = "\n\n".join(f"[{i}] {p.text}" for i, p in enumerate(passages, start=1))
        messages[1]["content"] = f"Documents:\n{blocks}\n\nQuestion: {q.question}"
    row.prompt_tokens = generator.count_tokens(messages)
    chunks = []
    for chunk in generator.stream(messages):
        if row.ttft is None:
            row.ttft = time.perf_counter() - started
        chunks.append(chunk)
    row.generated_tokens = len(chunks)
    row.total = time.perf_counter() - started
    row.reply = "".join(chunks).strip()
    row.abstained = is_abstention(row.reply)
    numbers = cited_numbers(row.reply)
    row.cited_gold = [1 <= n <= len(passages) and any(is_gold(passages[n - 1], q.gold)) for n in numbers]
    return {"citations": [passages[n - 1].ref if 1 <= n <= len(passages) else f"[{n}] (no such passage)"
                          for n in numbers]}


def evaluate(set_dir: Path, settings: Settings, limit: int | None = None, k: int | None = None,
             retrieval_only: bool = False, baseline: str | None = None, progress: bool = True,
             generator=None, embedder=None, seed: int = 0) -> dict:
    """Score a set; `generator` and `embedder` default to the settings' models (tests pass fakes)."""
    from tqdm import tqdm

    k = k or settings.k
    corpus, questions = load_set(set_dir)
    chosen = sample(questions, limit, seed)
    embedder = embedder or SentenceTransformerEmbedder(settings.embedder)
    pipelines = [("ours", "paragraphs-v1")] + ([("baseline", "naive-v1")] if baseline else [])
    if baseline not in (None, "naive"):
        raise EvalError(f"unknown baseline {baseline!r}: the only one is 'naive'")
    report = {"set": Path(set_dir).name, "questions": len(chosen), "of": len(questions), "k": k,
              "limit": limit, "sample_seed": seed, "retrieval_only": retrieval_only,
              "settings": {key: str(v) for key, v in asdict(settings).items()}}
    for name, chunking in pipelines:
        index, stats = eval_index(corpus, settings, embedder, chunking, progress)
        runner = Assistant(settings, index, generator)
        if not retrieval_only:
            generator = runner.generator  # loaded once, shared by both pipelines
        rows, details, right = [], [], 0
        bar = tqdm(chosen, desc=f"{report['set']} · {name}", unit="q", disable=not progress)
        for i, q in enumerate(bar, start=1):
            row = _row(q, index, settings.search if name == "ours" else "dense")
            extra = {}
            if not retrieval_only:
                extra = (run_ours(runner, q, k, row) if name == "ours"
                         else run_naive(index, runner.generator, q, k, row, settings.max_tokens))
                right += q.answerable and not row.abstained and correct(row.reply, q.answers)
                bar.set_postfix(accuracy=f"{right}/{sum(x.answerable for x in chosen[:i])}")
            rows.append(row)
            details.append({**asdict(row), **extra, "correct": correct(row.reply, q.answers) and not row.abstained})
        counts = retrieval(rows, k) if retrieval_only else summary(rows, k)
        section = {"summary": {key: (v["value"] if isinstance(v, dict) else v) for key, v in counts.items()},
                   "counts": {key: v for key, v in counts.items() if isinstance(v, dict)},
                   "hit_curve": hit_curve(rows), "index": stats, "rows": details}
        if not retrieval_only:
            section["model"] = _model_info(runner)
        report["ours" if name == "ours" else "baseline"] = section
    report["summary"] = report["ours"]["summary"]
    return report


def _model_info(assistant: Assistant) -> dict:
    gen = assistant.generator
    path = getattr(gen, "model_path", None)
    s = assistant.settings
    info = {"generator": str(path) if path else type(gen).__name__, "embedder": assistant.index.embedder.name}
    if path and not s.model_path:
        from .catalogue import get_profile

        info["generator_sha256"] = get_profile(s.profile).sha256
    return info
