"""A long evaluation run in parts (`qa eval --part I/N`) and joined (`qa eval --merge`): the merged
report is the whole run's, figure for figure, computed from the rows; parts that do not fit together
are refused with a message that says why."""
import dataclasses
import json
import os
import shutil

import pytest

from qa.eval import EvalError, MergeError, Report, evaluate, load_parts, merge, write
from qa.eval.metrics import percentile

from .conftest import SEED
from .fakes import HashEmbedder
from .test_eval import QUESTIONS, make_set

MORE = QUESTIONS + [
    {"id": "d", "question": "In which city was the NATO summit of 2008 held?", "answers": [["Bucharest"]],
     "gold": [{"doc": SEED.name, "quote": "At the NATO summit in Bucharest"}], "answerable": True},
    {"id": "e", "question": "What is the capital of Australia?", "answers": [], "gold": [], "answerable": False},
]
TIMES = ("ttft", "total")  # measured anew in every run
SPEED = {"ttft_p50", "ttft_p95", "total_p50", "total_p95", "generation_tokens_per_s"}


def reply(messages):
    text = messages[-1]["content"]
    if "Australia" in text or "population" in text:
        return "The documents do not say."
    if "summit" in text:
        return "It was held in Paris [1]."  # wrong: the parts differ in accuracy
    return "Sergei Lavrov is colloquially known as Doctor No [1]." if "Doctor" in text else "South Ossetia and Abkhazia [1]."


@pytest.fixture
def tiny(tmp_path):
    return make_set(tmp_path, MORE)


@pytest.fixture
def run(tiny, settings, generator, embedder):
    generator.reply = reply

    def run(set_dir=tiny, settings=settings, embedder=embedder, **kw):
        return evaluate(set_dir, settings, **{"limit": 4, "k": 3, "yardstick": True, "progress": False,
                                              "generator": generator, "embedder": embedder, **kw})
    return run


def untimed(rows):
    """The rows as report.json holds them (tuples become lists), less the times."""
    return [{key: v for key, v in r.items() if key not in TIMES} for r in json.loads(json.dumps(rows))]


def test_a_sample_run_in_two_parts_and_merged_is_the_whole_run(run, tmp_path):
    whole = run()
    one, two = run(part=(1, 2)), run(part=(2, 2))
    assert (one.offset, one.questions, two.offset, two.questions, two.part) == (0, 2, 2, 2, "2/2")
    assert one.sample_digest == two.sample_digest == whole.sample_digest and not two.whole
    write(one, tmp_path / "p1")
    write(two, tmp_path / "p2")
    merged = merge(load_parts([tmp_path / "p2", tmp_path / "p1" / "report.json"]))  # any order, through JSON
    assert merged.whole and (merged.offset, merged.questions, merged.parts) == (0, 4, [[0, 2], [2, 2]])
    for name in ("ours", "yardstick"):
        m, w = getattr(merged, name), getattr(whole, name)
        assert [r["id"] for r in m.rows] == [r["id"] for r in w.rows] == ["a", "b", "d", "e"]
        assert untimed(m.rows) == untimed(w.rows)
        assert {key: v for key, v in m.summary.items() if key not in SPEED} == \
               {key: v for key, v in w.summary.items() if key not in SPEED}
        assert m.counts == w.counts and m.hit_curve == w.hit_curve  # shares, n, of and intervals alike
        times = [r["ttft"] for r in getattr(one, name).rows + getattr(two, name).rows]
        assert m.summary["ttft_p50"] == round(percentile(times, 50), 3)  # over all the rows, not the parts' medians
    # pooled, not averaged: the parts score 1/1 and 0/1, the whole 2/3
    assert (one.summary["accuracy"], two.summary["accuracy"], merged.summary["accuracy"]) == (1.0, 0.0, 0.6667)
    md = write(merged, tmp_path / "merged").read_text()
    assert md.startswith("# Evaluation: tiny\n\n4 of 5 questions (sample seed 0)") and "questions 1–2, 3–4" in md
    assert (tmp_path / "merged" / "hits.png").stat().st_size > 1000 and (tmp_path / "merged" / "latency.png").exists()
    again = Report.load(tmp_path / "merged" / "report.json")
    assert again.summary == merged.summary and again.parts == [[0, 2], [2, 2]]


def test_first_still_runs_the_start_of_the_sample_and_merges_with_the_rest(run):
    first = run(first=2, yardstick=False)
    assert first.first == 2 and first.offset == 0 and first.questions == 2
    assert "the first 2 of a 4-question sample" in first.markdown()
    rest = run(part=(2, 2), yardstick=False)
    assert "questions 3–4 of a 4-question sample of 5 questions (sample seed 0; part 2/2)" in rest.markdown()
    assert merge([first, rest]).whole
    # a --first report written before parts existed (no offset, no fingerprint) joins a part run now
    old = Report.from_dict({key: v for key, v in first.to_dict().items()
                            if key not in ("offset", "part", "sample_digest", "parts")})
    joined = merge([rest, old])
    assert joined.whole and joined.sample_digest == rest.sample_digest and joined.parts == [[0, 2], [2, 2]]
    with pytest.raises(EvalError, match="not both"):
        run(first=2, part=(1, 2))


@pytest.mark.parametrize("part, message", [((3, 2), "from 1 to 2"), ((0, 2), "from 1 to 2"),
                                           ((1, 5), "holds no question")])
def test_a_part_that_is_not_in_the_sample_is_refused(run, part, message):
    with pytest.raises(EvalError, match=message):
        run(part=part)


def other_set(tmp_path, name="other", questions=MORE):
    return make_set(tmp_path, questions, name)


def renamed(tmp_path):
    """The same set, with question d's id changed between the parts."""
    return make_set(tmp_path, [{**q, "id": "d2"} if q["id"] == "d" else q for q in MORE], "tiny2")


REFUSED = {
    "another set": (lambda t, s: dict(set_dir=other_set(t)), "set: other in .*, tiny in"),
    "another seed": (lambda t, s: dict(seed=1), "sample seed: 1 in .*, 0 in"),
    "another limit": (lambda t, s: dict(limit=3), "--limit: 3 in .*, 4 in"),
    "another k": (lambda t, s: dict(k=2), "k: 2 in .*, 3 in"),
    "other settings": (lambda t, s: dict(settings=s.but(min_score=0.07)), "settings differ: min_score '0.07' in"),
    "another embedder": (lambda t, s: dict(embedder=HashEmbedder(name="fake/other")), r"models \(ours\)"),
    "no yardstick": (lambda t, s: dict(yardstick=False), "the yardstick run: absent in .*, present in"),
    "retrieval only": (lambda t, s: dict(retrieval_only=True), "retrieval only: True in"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_parts_of_different_runs_are_refused(run, tmp_path, settings, case):
    change, message = REFUSED[case]
    one, two = run(part=(1, 2)), run(part=(2, 2), **change(tmp_path, settings))
    with pytest.raises(MergeError, match=message):
        merge([("p1", one), ("p2", two)])


def test_parts_of_another_sample_of_the_same_set_are_refused(run, tmp_path):
    """questions.jsonl changed between the parts: the sample's fingerprint differs, even when the
    set's name, size, seed and limit are the same."""
    one = run(part=(1, 2))
    two = run(set_dir=renamed(tmp_path), part=(2, 2))
    two = dataclasses.replace(two, set=one.set)
    with pytest.raises(MergeError, match="the sample's questions"):
        merge([one, two])
    old = dataclasses.replace(two, sample_digest=None)  # a report from before the fingerprint: checked on the whole
    with pytest.raises(MergeError, match="not those of the sample"):
        merge([one, old])


def test_parts_run_by_different_code_are_refused(run):
    """Each report records the commit that ran it (and a fingerprint of uncommitted changes); parts
    of different code do not merge, whatever their settings say."""
    one, two = run(part=(1, 2)), run(part=(2, 2))
    assert one.code == two.code
    if one.code is None:
        pytest.skip("not run from a git checkout: no commit to record")
    merge([one, two])
    with pytest.raises(MergeError, match="the code that ran"):
        merge([one, dataclasses.replace(two, code="0123456789ab")])
    merge([one, dataclasses.replace(two, code=None)])  # a report from before the field: not known, not refused


def test_overlapping_missing_and_incomplete_parts(run):
    halves, thirds = [run(part=(i, 2)) for i in (1, 2)], [run(part=(i, 3)) for i in (1, 2, 3)]
    with pytest.raises(MergeError, match="overlap: both hold questions 1–2"):
        merge([halves[0], run(first=3)])
    with pytest.raises(MergeError, match="overlap: both hold question 2 of"):  # 1/2 = 1–2, 2/3 = 2, 3/3 = 3–4
        merge([halves[0], thirds[1], thirds[2]])
    with pytest.raises(MergeError, match="question 2 of the sample: in no part"):
        merge([thirds[0], thirds[2]])
    with pytest.raises(MergeError, match="questions 1–2 of the 4-question sample: run the missing"):
        merge(thirds[:2])
    with pytest.raises(MergeError, match="two part reports or more"):
        merge(halves[:1])
    start = merge(thirds[:2], partial=True)  # said so, and the report says which questions it holds
    assert (start.offset, start.questions, start.whole, start.parts) == (0, 2, False, [[0, 1], [1, 1]])
    assert "the first 2 of a 4-question sample" in start.markdown()
    end = merge(thirds[1:], partial=True)
    assert "questions 2–4 of a 4-question sample" in end.markdown() and end.summary["accuracy"] == 0.5
    assert merge(thirds).whole


def test_a_file_that_is_not_a_report_is_refused(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"set": "tiny"}))
    with pytest.raises(MergeError, match="not an evaluation report"):
        load_parts([tmp_path / "x.json"])
    with pytest.raises(MergeError, match="no report.json"):
        load_parts([tmp_path / "nothing"])


def test_qa_eval_in_parts_and_merge_on_the_command_line(tiny, tmp_path, monkeypatch, capsys):
    """The real CLI, a scripted OpenAI-compatible server on 127.0.0.1 for the model."""
    import qa.assistant
    from ui.cli import main

    from .fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer(reply=reply, flavour="llama.cpp")  # it serves /v1/completions too (the retry)
    monkeypatch.setattr(qa.assistant, "make_embedder", lambda *args, **kwargs: HashEmbedder())
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("QA_")]:  # the settings come from the command line only
        monkeypatch.delenv(key)
    monkeypatch.setenv("QA_MIN_SCORE", "0.05")
    common = ["--limit", "4", "-k", "3", "--data-dir", str(tmp_path / "data"), "--llm-url", server.url]
    try:
        for part in ("1/2", "2/2"):
            assert main(["eval", str(tiny), "--part", part, *common]) == 0
        assert main(["eval", str(tiny), "--out", "whole", *common]) == 0
    finally:
        server.close()
    parts = tmp_path / "eval-reports" / "tiny"
    assert sorted(p.name for p in parts.iterdir()) == ["part-1-of-2", "part-2-of-2"]  # apart by default
    assert "questions 3–4 of a 4-question sample" in (parts / "part-2-of-2" / "report.md").read_text()
    capsys.readouterr()
    assert main(["eval", "--merge", str(parts / "part-1-of-2"), str(parts / "part-2-of-2" / "report.json"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    merged, whole = Report.load(parts / "report.json"), Report.load(tmp_path / "whole" / "report.json")
    assert merged.whole and merged.parts == [[0, 2], [2, 2]] and printed["summary"] == merged.summary
    assert merged.settings == whole.settings and merged.yardstick is not None
    for name in ("ours", "yardstick"):
        m, w = getattr(merged, name), getattr(whole, name)
        assert untimed(m.rows) == untimed(w.rows) and m.counts == w.counts
    # refused, with a one-line error: a part twice, a merge over a part, options of a run
    for argv, message in [([str(parts / "part-1-of-2")] * 2, "overlap"),
                          ([str(parts / "part-1-of-2"), str(parts / "part-2-of-2"), "--out", str(parts / "part-2-of-2")],
                           "would overwrite it"),
                          ([str(parts / "part-1-of-2"), str(parts / "part-2-of-2"), "--limit", "4"], "leave out --limit")]:
        assert main(["eval", "--merge", *argv]) == 1
        assert message in capsys.readouterr().err
    assert main(["eval", str(tiny), "--part", "3/2", *common]) == 1
    assert "part 3/2: the part must be from 1 to 2" in capsys.readouterr().err
    assert main(["eval"]) == 1 and "needs a set folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", str(tiny), "--part", "half"])
    assert "is not I/N" in capsys.readouterr().err
    shutil.rmtree(parts / "part-1-of-2")
    assert main(["eval", "--merge", str(parts / "part-1-of-2"), str(parts / "part-2-of-2")]) == 1
    assert "part-1-of-2: no report.json there" in capsys.readouterr().err
