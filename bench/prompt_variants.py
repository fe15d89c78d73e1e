"""Which system prompt wording makes the 1.5B model answer best? Runs `qa eval` (ours only) on a
development sample with each wording and prints the answer figures.

    .venv/bin/python bench/prompt_variants.py ../shared/eval/realtimeqa-2020-2024 --limit 80 --seed 1

Seed 1 keeps the development sample apart from the reported one (seed 0). About 4 minutes per
wording for 80 RealTimeQA questions on 2 cores; run one LLM process at a time.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import qa.prompt as prompt
from qa.evaluate import evaluate
from qa.settings import Settings

A = prompt.ABSTAIN
WORDINGS = {
    "A (first)": ("Answer the question from the numbered passages only. Give a short, direct answer in the "
                  "passages' own words, and end each sentence with the number of the passage it comes from, "
                  f"like [1]. If the passages do not answer the question, write only: {A}"),
    "B (no abstention)": ("Answer the question with the name, number or phrase it asks for, taken from the "
                          "numbered passages, in one short sentence that ends with the number of the passage "
                          "it comes from, like [1]."),
    "C (bare phrase)": ("Answer the question with the name, number or phrase it asks for, taken from the "
                        "numbered passages, in one short sentence that ends with the number of the passage it "
                        f"comes from, like [1]. If no passage is about what the question asks, write only: {A}"),
    "D (if no passage is about)": ("Answer the question from the numbered passages only. Give a short, direct "
                                   "answer in a full sentence using the passages' own words, and end each "
                                   "sentence with the number of the passage it comes from, like [1]. If no "
                                   f"passage is about what the question asks, write only: {A}"),
    "E (chosen)": prompt.SYSTEM,
}
FIGURES = ("accuracy", "false_abstention", "correct_abstention", "citation_precision", "ttft_p50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", help="run one wording, by its letter")
    args = parser.parse_args()
    for name, system in WORDINGS.items():
        if args.only and not name.startswith(args.only):
            continue
        prompt.SYSTEM = system  # build_messages reads it at call time
        report = evaluate(args.set_dir, Settings.from_env(), args.limit, progress=False, seed=args.seed)
        print(name, json.dumps({k: report["summary"][k] for k in FIGURES}), flush=True)


if __name__ == "__main__":
    main()
