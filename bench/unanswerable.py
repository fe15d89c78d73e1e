"""Read the 'unanswerable' questions a report's pipeline answered anyway: is the expected answer
in the reply, and in the passage the reply cites? (RealTimeQA removed about 10% of the evidence,
but news repeats: a later week's article may still hold the answer.)

    .venv/bin/python bench/unanswerable.py eval-reports/realtimeqa-200/report.json

Reads the passages of the cached evaluation indexes under the data folder (`QA_DATA_DIR`, .qa).
"""
from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

from index.files import read_passages
from qa.eval.metrics import correct
from qa.settings import Settings


def main() -> None:
    report = json.loads(Path(sys.argv[1]).read_text())
    texts: dict[str, str] = {}
    for manifest in glob.glob(str(Path(Settings.from_env().data_dir) / "eval" / "*" / "manifest.json")):
        folder = Path(manifest).parent
        for p in read_passages(folder / json.loads(Path(manifest).read_text())["passages"]):
            texts.setdefault(p.ref, p.text)
    answered = [r for r in report["ours"]["rows"] if not r["answerable"] and not r["abstained"]]
    both = 0
    for r in answered:
        in_reply = correct(r["reply"], r["answers"])
        in_cited = any(correct(texts.get(ref, ""), r["answers"]) for ref in r["citations"])
        both += in_reply and in_cited
        print(f"reply has it: {in_reply!s:5}  cited passage has it: {in_cited!s:5}  {r['question'][:60]!r}")
    print(f"{both} of {len(answered)} answered 'unanswerable' questions: the expected answer is in the reply "
          "and in the passage it cites")


if __name__ == "__main__":
    main()
