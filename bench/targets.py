"""Issue 5's targets, read from a `qa eval ... --baseline naive` report: met or missed, by how much.

    .venv/bin/python bench/targets.py eval-reports/realtimeqa-200/report.json [more reports]

Prints one Markdown table per report. "Correct answers without a citation" counts, among the
answerable questions answered correctly, those whose answer cites no passage.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def uncited_correct(section: dict) -> tuple[int, int]:
    right = [r for r in section["rows"] if r["answerable"] and r["correct"]]
    return sum(1 for r in right if not r["citations"]), len(right)


def rows(report: dict) -> list[tuple[str, str, str, bool]]:
    ours, base = report["ours"]["summary"], report["baseline"]["summary"]
    hit = f"hit@{report['k']}"
    n, of = uncited_correct(report["ours"])
    uncited = n / of if of else 0.0
    ratio = ours["ttft_p50"] / base["ttft_p50"] if base["ttft_p50"] else float("inf")
    return [
        ("accuracy ≥ yardstick + 10 pts", f"{ours['accuracy']:.3f} vs {base['accuracy']:.3f}",
         f"{100 * (ours['accuracy'] - base['accuracy']):+.1f} pts", ours["accuracy"] - base["accuracy"] >= 0.10),
        ("correct abstention ≥ 80%", f"{ours['correct_abstention']:.3f}",
         f"{100 * (ours['correct_abstention'] - 0.80):+.1f} pts", ours["correct_abstention"] >= 0.80),
        ("false abstention ≤ 10%", f"{ours['false_abstention']:.3f}",
         f"{100 * (0.10 - ours['false_abstention']):+.1f} pts", ours["false_abstention"] <= 0.10),
        ("citation precision ≥ 85%", f"{ours['citation_precision']:.3f}",
         f"{100 * (ours['citation_precision'] - 0.85):+.1f} pts", ours["citation_precision"] >= 0.85),
        ("correct answers without citation ≤ 3%", f"{uncited:.3f} ({n}/{of})",
         f"{100 * (0.03 - uncited):+.1f} pts", uncited <= 0.03),
        (f"{hit} ≥ yardstick + 5 pts", f"{ours[hit]:.3f} vs {base[hit]:.3f}",
         f"{100 * (ours[hit] - base[hit]):+.1f} pts", ours[hit] - base[hit] >= 0.05),
        ("ttft p50 ≤ 60% of yardstick", f"{ours['ttft_p50']:.2f} s vs {base['ttft_p50']:.2f} s",
         f"{100 * ratio:.0f}%", ratio <= 0.60),
    ]


def main() -> None:
    for path in sys.argv[1:]:
        report = json.loads(Path(path).read_text())
        print(f"\n{report['set']}: {report['questions']} of {report['of']} questions, k = {report['k']}\n")
        print("| target | measured | margin (+ is better than the target) | met |\n|---|---|---|---|")
        for target, measured, margin, met in rows(report):
            print(f"| {target} | {measured} | {margin} | {'yes' if met else '**no**'} |")


if __name__ == "__main__":
    main()
