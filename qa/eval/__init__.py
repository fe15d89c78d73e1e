"""Evaluation: run a question set through the very same `Assistant` the chat uses and through a
plain RAG yardstick, on the same questions, and score both by the same rules.

    from qa.eval import evaluate, write
    report = evaluate(Path("../shared/eval/seed-article"), Settings.from_env(), yardstick=True)
    write(report, Path("eval-reports/seed-article"))

`sets` (question sets and samples), `runs` (ours and the yardstick), `metrics` (pure scoring),
`report` (the typed `Report`, its JSON, Markdown and plots), `merge` (parts of one sample, run
apart, joined into one report). Nothing in the answering modules
imports this package.
"""
from .merge import MergeError, load_parts, merge
from .report import Report, Section, write
from .runs import evaluate
from .sets import EvalError, Question, load_set, sample

__all__ = ["EvalError", "MergeError", "Question", "Report", "Section", "evaluate", "load_parts", "load_set", "merge",
           "sample", "write"]
