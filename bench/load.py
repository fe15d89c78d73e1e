"""Load on `qa serve`'s OpenAI-compatible API: 1, 4 and 16 concurrent clients, each streaming its
questions, with the model in process or behind llama-cpp-python's server. Reports per level: answers
complete, errors, time to the first word (p50/p95), whole answer (p50) and answers per minute.

    .venv/bin/python bench/load.py --backend inprocess --profile fast --clients 1 4 16
    .venv/bin/python bench/load.py --backend server --profile fast --clients 1 4 16

Starts what it measures itself on 127.0.0.1 (qa serve, and for `server` `python -m llama_cpp.server`
with the same GGUF and threads), stops them afterwards, and prints a Markdown table and JSON. Bounded:
each client asks `--per-client` questions (default 1) and a level stops waiting after
`--max-seconds`; an answer not complete by then counts as incomplete. Not a test: a measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import math
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ['Who is nicknamed "Doctor No"?', "What is the population of Sevastopol?",
             "Why does Russia reject European troops in Ukraine?",
             "What did Putin privately tell George W. Bush in 2008?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url: str, proc: subprocess.Popen, seconds: float = 600) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"{' '.join(map(str, proc.args))} did not start")
            time.sleep(1)


def start(backend: str, profile: str, threads: int, logs: Path) -> tuple[str, list[subprocess.Popen]]:
    from qa import Settings
    from qa.catalogue import resolve_gguf

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_PROFILE": profile, "QA_N_THREADS": str(threads)}
    procs = []
    if backend == "server":
        gguf = resolve_gguf("", profile, Settings.from_env({}).cache_dir)
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
                                       "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                                       "--n_threads", str(threads)], stdout=open(logs / "llama.log", "w"),
                                      stderr=subprocess.STDOUT))
        wait(f"http://127.0.0.1:{port}/v1/models", procs[-1])
        env["QA_LLM_URL"] = f"http://127.0.0.1:{port}/v1"
    port = free_port()
    procs.append(subprocess.Popen([sys.executable, "-m", "ui.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=open(logs / "serve.log", "w"), stderr=subprocess.STDOUT))
    url = f"http://127.0.0.1:{port}/v1"
    wait(url + "/models", procs[-1])
    return url, procs


def one(client, question: str) -> dict:
    started = time.perf_counter()
    first, extra, text = None, None, ""
    try:
        for chunk in client.chat.completions.create(model="qa", stream=True,
                                                    messages=[{"role": "user", "content": question}]):
            piece = chunk.choices[0].delta.content if chunk.choices else None
            if piece and first is None:
                first = time.perf_counter() - started
            text += piece or ""
            if chunk.model_extra and "qa" in chunk.model_extra:
                extra = chunk.model_extra["qa"]
        return {"question": question, "first_s": first, "total_s": time.perf_counter() - started,
                "complete": extra is not None, "abstained": extra and extra["abstained"],
                "confidence": extra and extra["confidence"], "notes": extra and extra["notes"], "error": None}
    except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
        return {"question": question, "first_s": first, "total_s": time.perf_counter() - started,
                "complete": False, "error": f"{type(exc).__name__}: {exc}"[:200]}


def level(url: str, clients: int, per_client: int, max_seconds: float) -> dict:
    from openai import OpenAI

    rows: list[dict] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=max_seconds)
        for j in range(per_client):
            row = one(client, QUESTIONS[(i + j) % len(QUESTIONS)])
            with lock:
                rows.append(row)

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(max(0.0, max_seconds - (time.perf_counter() - started)))
    wall = time.perf_counter() - started
    # the first word: the first text shown, whether an answer or the abstention sentence
    firsts = sorted(r["first_s"] for r in rows if r["first_s"] is not None)
    totals = sorted(r["total_s"] for r in rows if r["complete"])
    asked = clients * per_client

    def pct(values, q):  # the value at rank ceil(q * n) (nearest rank): p50 of 4 is the 2nd
        return round(values[max(0, math.ceil(q * len(values)) - 1)], 2) if values else None

    return {"clients": clients, "asked": asked, "complete": sum(r["complete"] for r in rows),
            "errors": sum(r["error"] is not None for r in rows), "unfinished": asked - len(rows),
            "first_p50_s": pct(firsts, 0.5), "first_p95_s": pct(firsts, 0.95),
            "total_p50_s": pct(totals, 0.5), "rows": rows,
            "answers_per_min": round(60 * sum(r["complete"] for r in rows) / wall, 2), "wall_s": round(wall, 1),
            "error_examples": sorted({r["error"] for r in rows if r["error"]})[:3]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["inprocess", "server"], default="inprocess")
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--per-client", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--logs", type=Path, default=Path("/tmp/qa-load"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    args.logs.mkdir(parents=True, exist_ok=True)
    url, procs = start(args.backend, args.profile, args.threads, args.logs)
    try:
        level(url, 1, 1, args.max_seconds)  # warm-up: model loaded, caches filled; not reported
        results = [level(url, c, args.per_client, args.max_seconds) for c in args.clients]
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(30)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
    print(f"backend {args.backend}, profile {args.profile}, {args.threads} threads; {machine}")
    print("| clients | asked | complete | errors | first word p50 / p95 (s) | answer p50 (s) | answers/min | wall (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['clients']} | {r['asked']} | {r['complete']} | {r['errors']} | {r['first_p50_s']} / "
              f"{r['first_p95_s']} | {r['total_p50_s']} | {r['answers_per_min']} | {r['wall_s']} |")
    print(json.dumps({"backend": args.backend, "profile": args.profile, "machine": machine, "levels": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
