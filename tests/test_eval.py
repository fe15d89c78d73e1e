import json

from index.build import CHUNKING, NAIVE_CHUNKING
import shutil
from pathlib import Path

from qa.eval import evaluate, load_set
from qa.eval.metrics import Row, answers, retrieval, speed
from qa.eval import Report, write
from qa.eval.runs import YARDSTICK_SYSTEM

from .conftest import SEED

QUESTIONS = [
    {"id": "a", "question": "Who is the foreign minister colloquially known as Doctor No?", "answers": [["Lavrov"]],
     "gold": [{"doc": SEED.name, "quote": 'colloquially known as "Doctor No"'}], "answerable": True},
    {"id": "b", "question": "Which Georgian regions South Ossetia Abkhazia were seized?", "answers": [["Ossetia"]],
     "gold": [{"doc": SEED.name, "quote": "South Ossetia and Abkhazia"}], "answerable": True},
    {"id": "c", "question": "What is the population of Sevastopol?", "answers": [], "gold": [], "answerable": False},
]


def row(answerable=True, ranks=(), found=(), reply="", abstained=False, cited=(), ttft=None, total=0.0, pt=0, gt=0):
    return Row("x", "q", answerable, [["Lavrov"]], list(ranks), len(found), list(found), reply, abstained,
               list(cited), ttft, total, pt, gt)


def test_perfect_run():
    rows = [row(ranks=[True, False], found=[1], reply="Lavrov [1]", cited=[True], ttft=1.0, total=2.0, pt=10, gt=5),
            row(answerable=False, abstained=True, reply="The documents do not say.")]
    r, a = retrieval(rows, 4), answers(rows)
    assert r["hit@1"] == {"value": 1.0, "n": 1, "of": 1, "low": 0.2065, "high": 1.0} and r["recall@4"]["value"] == 1.0 and r["mrr@10"]["value"] == 1.0
    assert a["accuracy"]["value"] == 1.0 and a["correct_abstention"]["value"] == 1.0
    assert a["citation_precision"]["value"] == 1.0 and a["citation_recall"]["value"] == 1.0
    assert a["no_citation"]["value"] == 0.0 and a["false_abstention"]["value"] == 0.0
    assert speed(rows)["generation_tokens_per_s"] == 5.0


def test_empty_run():
    assert retrieval([], 5)["hit@1"] == {"value": None, "n": 0, "of": 0}
    assert answers([])["accuracy"]["value"] is None and speed([])["ttft_p50"] is None


def test_run_that_abstains_on_everything():
    rows = [row(ranks=[False, True], found=[2], abstained=True, reply="The documents do not say."),
            row(answerable=False, abstained=True)]
    a, r = answers(rows), retrieval(rows, 1)
    assert a["accuracy"]["value"] == 0.0 and a["accuracy"]["of"] == 1 and a["false_abstention"]["value"] == 1.0
    assert a["correct_abstention"]["value"] == 1.0 and a["citation_precision"]["of"] == 0
    assert r["hit@1"]["value"] == 0.0 and r["mrr@10"]["value"] == 0.5


def make_set(tmp_path, questions=QUESTIONS, name="tiny") -> Path:
    set_dir = tmp_path / name
    (set_dir / "corpus").mkdir(parents=True)
    shutil.copy(SEED, set_dir / "corpus" / SEED.name)
    (set_dir / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    return set_dir


def test_eval_end_to_end_with_fakes(tmp_path, settings, seed_index, generator, embedder):
    def reply(messages):
        text = messages[-1]["content"]
        if "population" in text:
            return "The documents do not say."
        return "Sergei Lavrov is colloquially known as Doctor No [1]." if "Doctor" in text else "South Ossetia and Abkhazia [1]."

    generator.reply = reply
    set_dir = make_set(tmp_path)
    report = evaluate(set_dir, settings, k=3, yardstick=True, progress=False, generator=generator, embedder=embedder)
    ours, base = report.ours, report.yardstick
    assert report.questions == 3 and ours.counts["accuracy"]["of"] == 2
    assert ours.summary["correct_abstention"] == 1.0
    assert {"hit@1", "hit@3", "recall@3", "mrr@10", "accuracy", "citation_precision", "citation_precision_answer",
            "ttft_p50"} <= set(ours.summary)
    assert ours.counts["citation_precision_answer"]["n"] >= ours.counts["citation_precision"]["n"] > 0
    assert base.index["passages"] != ours.index["passages"]  # raw lines, headings and all
    [prompt] = [p for p in generator.prompts if p[0]["content"] == YARDSTICK_SYSTEM and "population" in p[1]["content"]]
    assert prompt[1]["content"].startswith("[1] ")  # whole paragraphs, numbered
    assert base.counts["correct_abstention"]["n"] == 1  # "The documents do not say." reads as "don't know"
    out = write(report, tmp_path / "out")
    assert (tmp_path / "out" / "report.json").exists() and (tmp_path / "out" / "hits.png").stat().st_size > 1000
    assert "| accuracy |" in out.read_text() and "(" in out.read_text()
    loaded = Report.load(tmp_path / "out" / "report.json")  # the JSON reads back as a typed report
    assert loaded.yardstick.summary == base.summary and loaded.ours.cell("accuracy") == ours.cell("accuracy")
    again = evaluate(set_dir, settings, k=3, progress=False, generator=generator, embedder=embedder,
                     retrieval_only=True)
    assert again.ours.index == ours.index  # the cached index is reused
    assert "accuracy" not in again.summary and "hit@1" in again.summary  # nothing claimed unmeasured


def test_eval_index_is_cached_by_corpus_content(tmp_path, settings, embedder):
    from qa.eval.runs import eval_index

    corpus = make_set(tmp_path) / "corpus"
    folders = lambda: sorted(p.name for p in (Path(settings.data_dir) / "eval").iterdir())  # noqa: E731
    eval_index(corpus, settings, embedder, CHUNKING, False)
    first = folders()
    index, _ = eval_index(corpus, settings, embedder, CHUNKING, False)
    assert folders() == first and len(first) == 1  # same content: the cached index is opened
    with (corpus / SEED.name).open("a") as f:  # same file name, new content
        f.write("\n\nThe lighthouse keeper counted ships at Cape Vella.\n")
    index, _ = eval_index(corpus, settings, embedder, CHUNKING, False)
    assert len(folders()) == 2 and "lighthouse" in index.search("lighthouse keeper ships", 1)[0].text
    eval_index(corpus, settings, embedder, NAIVE_CHUNKING, False)
    assert len(folders()) == 3  # another chunking is another index


def test_bad_set_is_a_clear_error(tmp_path):
    import pytest

    from qa.eval import EvalError

    with pytest.raises(EvalError, match="corpus/"):
        load_set(tmp_path)


def test_qa_eval_runs_the_yardstick_unless_told_not_to():
    from ui.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["eval", "some-set"]).baseline == "naive"
    assert parser.parse_args(["eval", "some-set", "--baseline", "none"]).baseline == "none"


def test_a_citation_of_another_passage_that_holds_the_answer_counts_apart_from_gold():
    """News repeats: a correct answer may cite a passage other than the gold one that states the
    same fact. citation_precision counts gold only; citation_precision_answer counts both."""
    rows = [row(reply="Lavrov [1] [2]", cited=[True, False]), row(reply="Lavrov [1]", cited=[False])]
    rows[0].cited_answer, rows[1].cited_answer = [True, True], [False]
    a = answers(rows)
    assert (a["citation_precision"]["n"], a["citation_precision"]["of"]) == (1, 3)
    assert (a["citation_precision_answer"]["n"], a["citation_precision_answer"]["of"]) == (2, 3)
