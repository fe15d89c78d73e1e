"""Time `qa index` and `qa ask` on the seed, as a user runs them (a new process per command).

    .venv/bin/python bench/seed_latency.py [--profiles default fast] [--out docs/latency.md]

Each `qa ask` is a cold start: it loads the embedder and the LLM before answering, so its time to
first token includes both loads. A warm figure (second question in the same process) is printed
too, from the Python API.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = ["Why does Russia reject European troops in Ukraine?",
             'Who is nicknamed "Doctor No"?',
             "What is the population of Sevastopol?"]
ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", nargs="+", default=["default", "fast"])
    args = parser.parse_args()
    qa = str(Path(sys.executable).with_name("qa"))
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "QA_DATA_DIR": data, "HF_HUB_OFFLINE": "1"}
        wall, out = run([qa, "index", str(ROOT / "seeds")], env)
        print(f"qa index seeds/ (cold process): {wall:.1f} s wall; {out.strip()}")
        print("\n| profile | question | first token (s) | total (s) | process wall (s) | prompt / generated tokens | abstained |")
        print("|---|---|---|---|---|---|---|")
        for profile in args.profiles:
            for q in QUESTIONS:
                wall, out = run([qa, "ask", "--json", "--profile", profile, q], env)
                a = json.loads(out)
                t = a["timings"]
                ft = f"{t['first_token_s']:.1f}" if t["first_token_s"] is not None else "–"
                print(f"| {profile} | {q} | {ft} | {t['total_s']:.1f} | {wall:.1f} | "
                      f"{t['prompt_tokens']} / {t['generated_tokens']} | {a['abstained']} |", flush=True)
        print("\nWarm (same process, models loaded by a first question):\n")
        print("| profile | question | first token (s) | total (s) | | | |\n|---|---|---|---|---|---|---|")
        code = ("import json,sys; from qa import Assistant, Settings\n"
                "a = Assistant(Settings.from_env(profile=sys.argv[1])); a.ask('Who is Lavrov?')\n"
                "for q in sys.argv[2:]:\n"
                "    t = a.ask(q).timings; print(json.dumps([t.first_token_s, t.total_s]))")
        for profile in args.profiles:
            _, out = run([sys.executable, "-c", code, profile, *QUESTIONS], env)
            for q, line in zip(QUESTIONS, out.strip().splitlines()):
                ft, total = json.loads(line)
                ft = f"{ft:.1f}" if ft is not None else "–"
                print(f"| {profile} | {q} | {ft} | {total:.1f} | | | |")


if __name__ == "__main__":
    main()
