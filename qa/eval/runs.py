"""Running a set: every question through the very same `Assistant` the chat uses and, with the
yardstick, through the plain RAG a competent user writes in ten lines, on the same questions, with
the same models, scored by the same rule."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, fields
from pathlib import Path

from index import Index
from index.build import CHUNKING, NAIVE_CHUNKING, collect, file_hash

from ..answer import Answer
from ..assistant import Assistant, embedder_for
from ..citations import cited_numbers
from ..prompt import says_unknown
from ..settings import Settings
from .metrics import Row, correct
from .report import Report, Section
from .sets import EvalError, Question, is_gold, load_set, part_bounds, sample, sample_digest

# The yardstick's prompt, as a user would write it (issue 10): whole passages, numbered.
YARDSTICK_SYSTEM = ("Answer the question using only the numbered passages. Cite passages like [1]. "
                    "If the passages do not contain the answer, say you don't know.")


def yardstick_messages(question: str, texts: list[str]) -> list[dict]:
    """
    >>> yardstick_messages("Q?", ["A.", "B."])[1]["content"]
    '[1] A.\\n\\n[2] B.\\n\\nQuestion: Q?'
    """
    blocks = "\n\n".join(f"[{i}] {t}" for i, t in enumerate(texts, start=1))
    return [{"role": "system", "content": YARDSTICK_SYSTEM},
            {"role": "user", "content": f"{blocks}\n\nQuestion: {question}"}]


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
    row.reply, row.abstained, row.confidence = answer.text, answer.abstained, answer.confidence
    row.cited_gold = [any(is_gold(c.passage, q.gold)) for c in answer.citations]
    row.cited_answer = [g or correct(c.passage.text, q.answers) for g, c in zip(row.cited_gold, answer.citations)]
    row.ttft, row.total, row.prompt_tokens, row.generated_tokens = (t.first_token_s, t.total_s, t.prompt_tokens,
                                                                     t.generated_tokens)
    return {"citations": [c.passage.ref for c in answer.citations], "notes": list(answer.notes),
            "signals": answer.signals, "support": [asdict(s) for s in answer.support]}


def run_yardstick(index: Index, generator, q: Question, k: int, row: Row, max_tokens: int) -> dict:
    """Dense top-k whole paragraphs as `[n] text`, the plain prompt, greedy, the same model; an
    abstention is a reply whose first sentence says it does not know (`says_unknown`)."""
    started = time.perf_counter()
    passages = index.search(q.question, k, "dense")
    # it too must not overflow the window: drop the last passage until it fits
    while passages and generator.count_tokens(yardstick_messages(q.question, [p.text for p in passages])) \
            + max_tokens > generator.n_ctx:
        passages = passages[:-1]
    messages = yardstick_messages(q.question, [p.text for p in passages])
    row.prompt_tokens = generator.count_tokens(messages)
    chunks = []
    for chunk in generator.stream(messages):
        if row.ttft is None:
            row.ttft = time.perf_counter() - started
        chunks.append(chunk)
    row.generated_tokens = len(chunks)
    row.total = time.perf_counter() - started
    row.reply = "".join(chunks).strip()
    row.abstained = says_unknown(row.reply) or not row.reply
    numbers = [n for n in cited_numbers(row.reply) if not row.abstained]
    row.cited_gold = [1 <= n <= len(passages) and any(is_gold(passages[n - 1], q.gold)) for n in numbers]
    row.cited_answer = [g or (1 <= n <= len(passages) and correct(passages[n - 1].text, q.answers))
                        for g, n in zip(row.cited_gold, numbers)]
    return {"citations": [passages[n - 1].ref if 1 <= n <= len(passages) else f"[{n}] (no such passage)"
                          for n in numbers]}


def evaluate(set_dir: Path, settings: Settings, limit: int | None = None, k: int | None = None,
             retrieval_only: bool = False, yardstick: bool = False, progress: bool = True,
             generator=None, embedder=None, seed: int = 0, exclude: frozenset[str] = frozenset(),
             first: int | None = None, part: tuple[int, int] | None = None) -> Report:
    """Score a set; `generator` and `embedder` default to the settings' models (tests pass fakes).
    `exclude`: question ids not to draw (a development sample leaves the reported one out);
    `first`: only the first questions of the sample, in file order; `part` (i, n): only the i-th of
    n consecutive parts of the sample (a long run done in parts, joined by `merge.merge`)."""
    from tqdm import tqdm

    if first is not None and part:
        raise EvalError("choose either the first questions of the sample or a part of it, not both")
    k = k or settings.k
    corpus, questions = load_set(set_dir)
    pool = [q for q in questions if q.id not in exclude]
    drawn = sample(questions, limit, seed, exclude)
    offset, count = part_bounds(len(drawn), *part) if part else (0, first)
    chosen = drawn[offset:] if count is None else drawn[offset:offset + count]
    embedder = embedder or embedder_for(settings)
    name = Path(set_dir).name
    sections: dict[str, Section] = {}
    for pipeline, chunking in [("ours", CHUNKING)] + ([("yardstick", NAIVE_CHUNKING)] if yardstick else []):
        index, stats = eval_index(corpus, settings, embedder, chunking, progress)
        runner = Assistant(settings, index, generator)
        if not retrieval_only:
            generator = runner.generator  # loaded once, shared by both pipelines
        details, right = [], 0
        bar = tqdm(chosen, desc=f"{name} · {pipeline}", unit="q", disable=not progress)
        for i, q in enumerate(bar, start=1):
            row = _row(q, index, settings.search if pipeline == "ours" else "dense")
            extra = {}
            if not retrieval_only:
                extra = (run_ours(runner, q, k, row) if pipeline == "ours"
                         else run_yardstick(index, generator, q, k, row, settings.max_tokens))
                right += q.answerable and not row.abstained and correct(row.reply, q.answers)
                bar.set_postfix(accuracy=f"{right}/{sum(x.answerable for x in chosen[:i])}")
            details.append({**asdict(row), **extra, "correct": correct(row.reply, q.answers) and not row.abstained})
        sections[pipeline] = Section.from_rows(details, k, retrieval_only, stats,
                                               None if retrieval_only else _model_info(runner))
    return Report(set=name, questions=len(chosen), of=len(pool), k=k, limit=limit, sample_seed=seed,
                  retrieval_only=retrieval_only, excluded=len(questions) - len(pool), first=first,
                  offset=offset, part=f"{part[0]}/{part[1]}" if part else None,
                  sample_digest=sample_digest([q.id for q in drawn]), code=code_version(),
                  settings={f.name: str(getattr(settings, f.name)) for f in fields(settings)},
                  ours=sections["ours"], yardstick=sections.get("yardstick"))


def code_version() -> str | None:
    """The commit of the checkout this package runs from, with "+changes-" and a fingerprint of the
    difference when its code (qa/, index/) differs from it; None outside a git checkout (an installed copy).
    Parts run by different code are not merged (`merge.merge`)."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=10)
        if commit.returncode:
            return None
        changed = subprocess.run(["git", "diff", "HEAD", "--no-ext-diff", "--", "qa", "index"], cwd=here.parents[1],
                                 capture_output=True, timeout=30)  # the code that answers, not docs or tests
    except (OSError, subprocess.SubprocessError):
        return None
    if not changed.stdout:
        return commit.stdout.strip()
    return f"{commit.stdout.strip()}+changes-{hashlib.sha256(changed.stdout).hexdigest()[:8]}"


def _model_info(assistant: Assistant) -> dict:
    gen = assistant.generator
    path = getattr(gen, "model_path", None)
    s = assistant.settings
    info = {"generator": str(path) if path else type(gen).__name__, "embedder": assistant.index.embedder.name}
    if path and not s.model_path:
        from ..catalogue import get_profile

        info["generator_sha256"] = get_profile(s.profile).sha256
    return info
