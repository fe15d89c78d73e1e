"""Issue 10's targets, read from `qa eval SET --limit 300 --baseline naive` reports (ours and the
yardstick in the same run): met or missed, by how much, with 95 % intervals.

    .venv/bin/python bench/targets.py eval-reports/realtimeqa/report.json eval-reports/squad2/report.json \
        eval-reports/seed-article/report.json

The accuracy gain over the yardstick is a paired difference on the same questions; a gain whose
interval reaches below the target is reported as such.
"""
from __future__ import annotations

import sys
from pathlib import Path

from qa.eval import Report
from qa.eval.metrics import paired_difference

CORRECT_ABSTENTION = {"realtimeqa-2020-2024": 0.60, "squad2-sample": 0.45, "seed-article": 1.0}


def rows(report: Report) -> list[tuple[str, str, bool]]:
    ours, yard = report.ours, report.yardstick
    right = {r["id"]: r["correct"] for r in ours.rows if r["answerable"]}
    theirs = {r["id"]: r["correct"] for r in yard.rows if r["answerable"]}
    gain = paired_difference([right[i] for i in right], [theirs[i] for i in right])
    ratio = ours.summary["ttft_p50"] / yard.summary["ttft_p50"]
    floor = CORRECT_ABSTENTION.get(report.set, 0.45)
    s = ours.summary
    return [
        ("accuracy ≥ yardstick + 10 pts",
         f"{ours.cell('accuracy')} vs {yard.cell('accuracy')}: {100 * gain['value']:+.1f} pts "
         f"(95 % {100 * gain['low']:+.0f} to {100 * gain['high']:+.0f})", gain["value"] >= 0.10),
        ("false abstention ≤ 0.08", ours.cell("false_abstention"), s["false_abstention"] <= 0.08),
        (f"correct abstention ≥ {floor:.2f}", ours.cell("correct_abstention"), s["correct_abstention"] >= floor),
        ("citation precision ≥ 0.90", ours.cell("citation_precision"), s["citation_precision"] >= 0.90),
        ("(beside it: a cited passage that holds an accepted answer also counts)",
         ours.cell("citation_precision_answer"), None),
        ("first token p50 ≤ 0.6 × yardstick",
         f"{s['ttft_p50']:.2f} s vs {yard.summary['ttft_p50']:.2f} s ({ratio:.2f} ×)", ratio <= 0.6),
    ]


def main() -> None:
    for path in sys.argv[1:]:
        report = Report.load(Path(path))
        print(f"\n{report.set}: {report.questions} of {report.of} questions (seed {report.sample_seed}), "
              f"k = {report.k}; confidence ROC AUC {report.ours.summary.get('confidence_auc')}\n")
        print("| target | measured (ours vs yardstick) | met |\n|---|---|---|")
        for target, measured, met in rows(report):
            print(f"| {target} | {measured} | {'–' if met is None else 'yes' if met else '**no**'} |")


if __name__ == "__main__":
    main()
