
import pytest

from qa import Answer, Assistant
from qa.prompt import ABSTAIN, RETRY_AVOID, build_messages, is_abstention

from .fakes import ScriptedGenerator

DOCTOR_Q = "Who is the foreign minister colloquially known as Doctor No?"


def collect(stream):
    items = list(stream)
    assert isinstance(items[-1], Answer) and all(isinstance(i, str) for i in items[:-1])
    return "".join(items[:-1]), items[-1]


def test_answer_cites_the_passages_shown(settings, seed_index, generator):
    generator.reply = "Sergei Lavrov is called Doctor No [1]. He rejects Western ideas [1][9]."
    shown, answer = collect(Assistant(settings, seed_index, generator).stream(DOCTOR_Q))
    assert answer.text == "Sergei Lavrov is called Doctor No [1]. He rejects Western ideas [1]."
    assert shown.strip() == answer.text  # the invalid [9] was never streamed
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].passage is answer.passages[0]
    assert "Doctor No" in answer.citations[0].passage.text
    assert not answer.abstained
    [prompt] = generator.prompts
    assert prompt[-1]["content"].startswith("Passages:\n[1] … No Moscow's")  # best sentences only
    assert "colloquially known as \"Doctor No\"" in prompt[-1]["content"]
    assert DOCTOR_Q in prompt[-1]["content"]
    t = answer.timings
    assert t.first_token_s is not None and t.total_s >= t.first_token_s and t.prompt_tokens > 0


def test_model_abstention_clears_citations(settings, seed_index, generator):
    generator.reply = "The documents do not say [2]."
    answer = Assistant(settings, seed_index, generator).ask("What is the population of Sevastopol?")
    assert answer.abstained and answer.text == ABSTAIN and answer.citations == ()


def test_abstains_without_calling_the_model_when_nothing_is_relevant(settings, seed_index, generator):
    assistant = Assistant(settings.but(min_score=0.99), seed_index, generator)
    shown, answer = collect(assistant.stream("What is the capital of Peru?"))
    assert answer.abstained and shown == ABSTAIN and generator.prompts == []
    assert answer.passages == () and answer.notes


def test_passages_that_do_not_fit_are_dropped_lowest_ranked_first(settings, seed_index):
    generator = ScriptedGenerator("Fine [1].", n_ctx=600)
    generous = settings.but(n_ctx=600, max_tokens=200, k=6, min_score=0.0, margin=1.0, budget=10_000)
    answer = Assistant(generous, seed_index, generator).ask("Russia NATO Ukraine troops Kremlin")
    ranked = seed_index.search("Russia NATO Ukraine troops Kremlin", 6)
    assert 0 < len(answer.passages) < 6
    assert [p.text for p in answer.passages] == [p.text for p in ranked[:len(answer.passages)]]
    assert generator.count_tokens(generator.prompts[0]) <= 600 - 200
    assert any("did not fit" in n for n in answer.notes)


def test_lean_prompt_sends_close_passages_and_their_best_sentences(settings, seed_index, generator):
    question = "Russia NATO Ukraine troops Kremlin"
    ranked = seed_index.search(question, 6)
    margin = 0.05
    close = [p for p in ranked if p.score >= max(q.score for q in ranked) - margin and p.score >= 0.05]
    answer = Assistant(settings.but(k=6, margin=margin, budget=60), seed_index, generator).ask(question)
    assert 0 < len(answer.passages) <= len(close) < len(ranked)
    assert all(p in close for p in answer.passages)
    sent = generator.prompts[0][-1]["content"].split("Question: ")[0]
    assert len(sent.split()) < 60 + 10 and "…" in sent  # cut to the budget, gaps marked
    assert all(len(p.text.split()) > 0 for p in answer.passages)  # citations keep the whole paragraph


def test_over_long_question_is_trimmed_with_a_note(settings, seed_index, generator):
    question = "Lavrov " + "why " * 500
    answer = Assistant(settings.but(max_question_tokens=50), seed_index, generator).ask(question)
    sent = generator.prompts[0][-1]["content"].split("Question: ", 1)[1]
    assert len(sent.split()) <= 50 and any("trimmed" in n for n in answer.notes)


def test_empty_question_is_refused(settings, seed_index, generator):
    with pytest.raises(ValueError):
        Assistant(settings, seed_index, generator).ask("   ")


def test_prompt_and_abstention_helpers():
    messages = build_messages("Why?", [])
    assert messages[0]["role"] == "system" and ABSTAIN in messages[0]["content"]
    assert is_abstention("the documents do NOT say.") and not is_abstention("")
    assert not is_abstention("The documents say Lavrov [1].")


def test_json_shape(settings, seed_index, generator):
    generator.reply = "Lavrov [1]."
    data = Assistant(settings, seed_index, generator).ask(DOCTOR_Q).to_json()
    assert set(data) >= {"answer", "citations", "abstained", "timings"}
    assert set(data["citations"][0]) >= {"n", "doc", "paragraph", "text"}
    assert data["citations"][0]["paragraph"] == 3


def test_wrong_citation_is_reattributed_to_the_supporting_passage(settings, seed_index, generator):
    def reply(messages):  # cites the last passage for a claim that only the first one makes
        n = messages[-1]["content"].count("\n[") + 1
        return f'Sergei Lavrov is colloquially known as "Doctor No" [{n}].'

    generator.reply = reply
    answer = Assistant(settings, seed_index, generator).ask(DOCTOR_Q)
    assert [c.passage.paragraph for c in answer.citations] == [3]
    assert answer.support[0].supported and answer.support[0].cited == (answer.citations[0].n,)


def test_unsupported_answer_is_withheld(settings, seed_index, generator):
    generator.reply = "The population of Sevastopol is 100,000 [1]."
    answer = Assistant(settings, seed_index, generator).ask("What is the population of Sevastopol?")
    assert answer.abstained and answer.text == ABSTAIN and answer.citations == ()
    assert any("not supported" in n for n in answer.notes)


def test_a_bare_pointer_is_no_answer(settings, seed_index, generator):
    generator.reply = "[1]"
    answer = Assistant(settings, seed_index, generator).ask(DOCTOR_Q)
    assert answer.abstained and answer.text == ABSTAIN and answer.citations == ()
    assert any("no answer" in n for n in answer.notes)


def test_uncited_supported_sentence_gets_its_citation(settings, seed_index, generator):
    generator.reply = "Russian forces seized South Ossetia and Abkhazia."
    answer = Assistant(settings, seed_index, generator).ask("Which Georgian regions did Russia seize?")
    assert [c.passage.paragraph for c in answer.citations] == [4]


def test_follow_up_question_is_searched_with_the_earlier_one(settings, seed_index, generator):
    assistant = Assistant(settings, seed_index, generator)
    plain = assistant.retrieve("And what did he say about it?")
    follow = assistant.retrieve("And what did he say about it?", history=["Who is colloquially known as Doctor No?"])
    assert follow.query.startswith("And what did he say about it?") and "Doctor No" in follow.query
    assert plain.query == plain.question

    def rank_of_doctor_no(retrieval):
        return next((i for i, p in enumerate(retrieval.passages) if p.paragraph == 3), 99)

    assert rank_of_doctor_no(follow) < rank_of_doctor_no(plain)
    generator.reply = "Lavrov called it unacceptable [1]."
    answer = assistant.ask("And what did he say about it?", history=["Who is colloquially known as Doctor No?"])
    assert "Follow-up to: Who is colloquially known as Doctor No?" in generator.prompts[-1][-1]["content"]
    assert answer.question == "And what did he say about it?"


def test_retrieval_can_be_shown_before_generation(settings, seed_index, generator):
    assistant = Assistant(settings, seed_index, generator)
    retrieval = assistant.retrieve(DOCTOR_Q)
    assert retrieval.passages and generator.prompts == []
    answer = [i for i in assistant.stream(DOCTOR_Q, retrieval=retrieval)][-1]
    assert answer.passages[0] == retrieval.passages[0]


SEVASTOPOL_Q = "What is the population of Sevastopol?"


def test_abstention_overruled_when_the_checks_say_the_passages_answer(settings, seed_index):
    """The model began "The documents do not say.", the yes/no check says the passages answer: the
    answer is decoded again with that sentence's first token forbidden, checked, and shown; the
    abstention draft is never streamed."""
    generator = ScriptedGenerator("The documents do not say.", retry='Sergei Lavrov is known as "Doctor No" [1].',
                                  yes=0.999, start=0.01)
    shown, answer = collect(Assistant(settings.but(retry_floor=0.5, confidence_floor=0.5), seed_index,
                                      generator).stream(DOCTOR_Q))
    assert generator.avoided == [(), RETRY_AVOID]
    assert not answer.abstained and "Lavrov" in answer.text and answer.citations
    assert "documents do not say" not in shown.lower() and shown.strip() == answer.text
    assert answer.signals["retried"] == 1 and answer.signals["model_abstained"] is True  # the draft did
    assert answer.confidence is not None and answer.confidence >= 0.5
    checks = [m[-1]["content"] for m in generator.checks]
    assert any(c.endswith("Do the passages state the answer to this question? Reply yes or no.") for c in checks)
    assert any("does it answer exactly this question" in c for c in checks)


def test_abstention_kept_when_the_checks_agree(settings, seed_index):
    generator = ScriptedGenerator("The documents do not say.", retry="Lavrov [1].", yes=0.001, start=0.99)
    shown, answer = collect(Assistant(settings.but(retry_floor=0.5), seed_index, generator).stream(SEVASTOPOL_Q))
    assert generator.avoided == [()] and answer.abstained and shown == ABSTAIN
    assert answer.confidence is not None and answer.confidence < 0.5 and answer.citations == ()


def test_answer_withheld_when_its_confidence_is_low(settings, seed_index):
    """Every word of the answer is in a passage (the citation check passes it), but the yes/no checks
    say it does not answer this question: it is withheld, with the reason."""
    generator = ScriptedGenerator('Sergei Lavrov is known as "Doctor No" [1].', yes=0.001, start=0.9)
    answer = Assistant(settings.but(confidence_floor=0.5), seed_index, generator).ask(DOCTOR_Q)
    assert answer.abstained and answer.text == ABSTAIN and answer.citations == ()
    assert answer.confidence < 0.5 and any("confidence" in n for n in answer.notes)
    assert answer.signals["supported"] == 1.0  # the citation check alone would have shown it


def test_a_generator_without_probabilities_still_answers(settings, seed_index):
    class Plain:  # a generator that cannot give next-token probabilities (e.g. some servers)
        n_ctx = 4096

        def __init__(self):
            self.inner = ScriptedGenerator('Sergei Lavrov is known as "Doctor No" [1].')

        def count_tokens(self, messages):
            return self.inner.count_tokens(messages)

        def stream(self, messages, avoid=()):
            return self.inner.stream(messages, avoid)

    answer = Assistant(settings, seed_index, Plain()).ask(DOCTOR_Q)
    assert not answer.abstained and answer.confidence is None and "Lavrov" in answer.text


def shown_passages(content: str) -> list[str]:
    """The passages' texts as a prompt shows them ("[n] text" blocks), in order."""
    blocks = content.split("Passages:\n", 1)[1].rsplit("\n\nQuestion: ", 1)[0]
    return [b.split("] ", 1)[1] for b in blocks.split("\n\n")]


def first_sentence(text: str) -> str:
    return max(text.split("…"), key=len).strip().split(". ")[0].rstrip(".")


WHY_Q = "Why does Russia reject European troops in Ukraine? NATO Lavrov"


def test_why_question_asks_each_other_cause_giving_passage_alone(settings, seed_index):
    """Each passage the answer does not cite whose text gives a cause is asked for its reason, shown
    to the model alone; what it gives is cited as that passage of the answer."""
    from qa.lean import gives_cause

    def reply(messages):
        content = messages[-1]["content"]
        texts = shown_passages(content)
        if "Answer from passage [" not in content:
            return f"{first_sentence(texts[0])} [1]."
        assert len(texts) == 1 and "Answer from passage [1] only" in content
        return f"{first_sentence(texts[0])} [1]." if texts[0] == reply.giver else ABSTAIN

    generator = ScriptedGenerator(reply)
    assistant = Assistant(settings.but(margin=1.0, k=5), seed_index, generator)

    def run():
        generator.prompts.clear()
        shown, answer = collect(assistant.stream(WHY_Q))
        return shown, answer, [p[-1]["content"] for p in generator.prompts]

    reply.giver = None
    _, answer, asked = run()
    texts, scores = shown_passages(asked[0]), [p.score for p in answer.passages]
    expected = sorted((n for n in range(2, len(texts) + 1) if gives_cause(texts[n - 1])), key=lambda n: -scores[n - 1])[:3]
    assert len(expected) >= 2  # the seed's passages give causes: the test means something
    assert [shown_passages(a)[0] for a in asked[1:]] == [texts[n - 1] for n in expected]
    assert {c.n for c in answer.citations} == {1}  # every other passage declined: nothing added

    giver = expected[1]
    reply.giver = texts[giver - 1]
    shown, answer, _ = run()
    assert {c.n for c in answer.citations} == {1, giver}, answer.text
    assert first_sentence(texts[giver - 1])[:40] in answer.text
    assert ABSTAIN not in shown  # a passage with no reason adds nothing, not even in the draft
    assert shown.strip() == answer.text  # what was shown is the answer, each addition once
    assert all(s.supported for s in answer.support) and answer.support[0].cited == (1,)


def test_probes_read_the_main_prompt_before_the_further_reasons(settings, seed_index):
    """Every yes/no probe extends the main prompt; llama.cpp reuses the cached prefix only while it is
    the last prompt evaluated, so the probes run before any passage is shown alone, and the answer
    check judges the answer the passages gave first."""
    def reply(messages):
        texts = shown_passages(messages[-1]["content"])
        return f"{first_sentence(texts[0])} [1]."  # every passage asked alone gives a reason

    checked_after: list[int] = []  # how many prompts had been decoded when each probe ran

    def yes(messages):
        checked_after.append(len(generator.prompts))
        return 0.9

    generator = ScriptedGenerator(reply, yes=yes)
    answer = Assistant(settings.but(margin=1.0, k=5), seed_index, generator).ask(WHY_Q)
    assert len(generator.prompts) > 1 and len(answer.citations) > 1  # further reasons were asked and given
    assert checked_after and set(checked_after) == {1}
    main = generator.prompts[0]
    head, user = main[:-1], main[-1]["content"]
    assert all(c[:len(head)] == head and c[len(head)]["content"].startswith(user) for c in generator.checks)
    judged = [c[len(main)]["content"] for c in generator.checks if len(c) > len(main) + 1]
    assert judged and all(x in answer.text and x != answer.text for x in judged)  # the first answer alone


def test_further_reasons_are_not_asked_of_the_passage_an_uncited_answer_rests_on(settings, seed_index):
    """The 1.5B model often leaves a one-sentence answer uncited: the passage it rests on is not asked
    again (it would repeat the same reason), and repeats are not added."""
    def reply(messages):
        content = messages[-1]["content"]
        texts = shown_passages(content)
        if "Answer from passage [" not in content:
            return first_sentence(texts[1]) + "."  # rests on passage [2], cites nothing
        return f"{first_sentence(texts[0])}. {reply.draft}. [1]"  # a reason, then a repeat

    generator = ScriptedGenerator(reply)
    assistant = Assistant(settings.but(margin=1.0, k=5), seed_index, generator)
    reply.draft = "Nothing"
    collect(assistant.stream(WHY_Q))  # to learn the passages sent
    main = shown_passages(generator.prompts[0][-1]["content"])
    reply.draft = first_sentence(main[1])
    generator.prompts.clear()
    shown, answer = collect(assistant.stream(WHY_Q))
    asked = [shown_passages(p[-1]["content"])[0] for p in generator.prompts[1:]]
    assert asked and main[1] not in asked
    assert answer.text.count(reply.draft[:40]) == 1, answer.text  # the repeat is not added
    assert all(s.supported for s in answer.support)


def test_each_passage_sentence_is_embedded_once_per_question(settings, seed_index, embedder):
    """The lean cut and the citation check both need the sentences' vectors: one embedding each."""
    generator = ScriptedGenerator('Sergei Lavrov is known as "Doctor No" [1].')
    assistant = Assistant(settings.but(margin=1.0), seed_index, generator, embedder)
    assistant.retrieve(DOCTOR_Q)  # the index's own work (the question) is not what is counted
    embedder.embedded.clear()
    answer = assistant.ask(DOCTOR_Q)
    from index.clean import sentences
    passage_sentences = {s for p in answer.passages for s in sentences(p.text)}
    counted = [t for t in embedder.embedded if t in passage_sentences]
    assert passage_sentences and len(counted) == len(set(counted))


def test_a_reader_who_stops_while_further_reasons_are_decoded_stops_them(settings, seed_index):
    """The further reasons are decoded out of sight, but the stream still yields ("" a word), so the
    chat's Stop or a client that leaves ends the work there and releases the model."""
    def reply(messages):
        content = messages[-1]["content"]
        return "Russia fears NATO because of its expansion [2]." if "Answer from passage [" in content \
            else "Russia rejects the troops [1]."

    generator = ScriptedGenerator(reply)
    stream = Assistant(settings.but(margin=1.0, k=5), seed_index, generator).stream(
        "Why does Russia reject European troops in Ukraine? NATO Lavrov")
    shown = ""
    for item in stream:
        if item == "" and shown:  # the draft is out; the first further reason is being decoded
            break
        shown += item
    stream.close()
    assert shown.startswith("Russia rejects the troops")
    assert sum("Answer from passage [" in p[-1]["content"] for p in generator.prompts) == 1


def test_the_question_is_embedded_once_per_question(settings, seed_index, embedder):
    """Search and the lean cut both need the question's vector: one embedding."""
    assistant = Assistant(settings.but(margin=1.0), seed_index, ScriptedGenerator("Lavrov [1]."), embedder)
    for question in (DOCTOR_Q, "Why does Russia reject European troops in Ukraine?"):
        embedder.embedded.clear()
        assistant.ask(question)
        assert embedder.embedded.count(question) == 1


def test_the_keyword_searchs_first_passage_is_sent_even_outside_the_score_margin(settings, seed_index, generator):
    """A passage holding the question's rare words can score low on embeddings (a short, generic
    passage leads instead: 'Figures of the harbour.' over 'The harbour museum keeps …'); the one
    keyword search ranks first is sent with those within the margin (bench/passages_sent.py)."""
    from qa.assistant import Retrieval, _SentenceVectors

    question = "Who is nicknamed Doctor No?"
    ranked = seed_index.search(question, 5)
    top, low = ranked[0].with_score(0.9), ranked[1].with_score(0.5)
    retrieval = Retrieval(question, question, (top, low), 0.0, keyword=(low.text,))
    assistant = Assistant(settings.but(margin=0.1), seed_index, generator)
    assert [p for p, _ in assistant._lean(retrieval, _SentenceVectors(seed_index.embedder))] == [top, low]
    without = Retrieval(question, question, (top, low), 0.0)
    assert [p for p, _ in assistant._lean(without, _SentenceVectors(seed_index.embedder))] == [top]
    floor = Retrieval(question, question, (top, low.with_score(0.01)), 0.0, keyword=(low.text,))
    assert [p for p, _ in assistant._lean(floor, _SentenceVectors(seed_index.embedder))] == [top]  # min_score holds


def test_retrieval_names_the_keyword_searchs_first_passage_unless_asked_not_to(settings, seed_index, generator):
    question = "Which Georgian regions did Russian forces seize?"
    first = seed_index.keyword_first(question, 1)
    assert len(first) == 1 and "Ossetia" in first[0]
    assert Assistant(settings, seed_index, generator).retrieve(question).keyword == tuple(first)
    assert Assistant(settings.but(keyword_keep=0), seed_index, generator).retrieve(question).keyword == ()
    assert Assistant(settings, seed_index, generator).retrieve(question, search="dense").keyword == ()
    assert seed_index.keyword_first("", 1) == [] and seed_index.keyword_first(question, 0) == []
