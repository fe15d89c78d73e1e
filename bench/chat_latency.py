"""Time the web chat as a person sees it: from pressing Enter to the first sources shown, to the
first word of the answer, and to the full answer, in headless Chromium against `qa serve`'s app.

    .venv/bin/python bench/chat_latency.py [--profile default]

The first question also pays for loading the LLM; the app loads the embedder when it starts.
"""
from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from pathlib import Path

QUESTIONS = ["Why does Russia reject European troops in Ukraine?", 'Who is nicknamed "Doctor No"?',
             "What did Putin privately tell George W. Bush in 2008?", "What is the population of Sevastopol?"]
ROOT = Path(__file__).resolve().parent.parent
STATE = """() => { const s = document.querySelector('#sources'); const b = document.querySelectorAll('#chat .bot');
  const last = b.length ? b[b.length - 1].innerText : '';
  return {sources: s ? s.innerText : '', bots: b.length, last: last}; }"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from playwright.sync_api import sync_playwright

    from qa import Settings
    from ui.app import serve, stop

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        settings = Settings.from_env(data_dir=data, seeds=ROOT / "seeds", profile=args.profile)
        _, app = serve(settings, "127.0.0.1", port, block=False)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#question textarea")
            print(f"profile {args.profile}\n\n| question | sources shown (s) | first word (s) | full answer (s) |\n|---|---|---|---|")
            for q in QUESTIONS:
                time.sleep(2)  # let the previous answer settle (its final render follows the sources)
                before = page.evaluate(STATE)
                bots, previous = before["bots"], before["last"]
                page.fill("#question textarea", q)
                start = time.perf_counter()
                page.keyboard.press("Enter")
                shown = first = None
                while True:
                    st = page.evaluate(STATE)
                    now = time.perf_counter() - start
                    changed = st["sources"] != before["sources"]  # not the previous question's panel
                    if shown is None and ("Found" in st["sources"] or "do not answer" in st["sources"]):
                        shown = now
                    fresh = st["last"].strip() and st["last"] != previous and "Searching" not in st["last"]
                    if first is None and st["bots"] > bots and fresh:
                        first = now
                    if first is not None and changed and "reading them" not in st["sources"]:
                        done = now
                        break
                    if now > 300:
                        raise SystemExit(f"no complete answer to {q!r} after 300 s")
                    time.sleep(0.05)
                cells = " | ".join("–" if t is None else f"{t:.1f}" for t in (shown, first, done))
                print(f"| {q} | {cells} |", flush=True)
            browser.close()
        stop(app.server)


if __name__ == "__main__":
    main()
