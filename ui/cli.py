"""The `qa` command line: a thin shell over `Index`, `Assistant`, the evaluation and the model
catalogue. An edge like the web chat (ui/app.py): nothing imports it, and it imports every heavy
library only inside the command that needs it, so `qa --help` stays light."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qa.prompt import SEED_QUESTION


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if isinstance(getattr(args, "question", None), str):  # bytes not UTF-8 arrive as surrogate escapes
        from index.clean import valid_text

        args.question = valid_text(args.question)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    from index import SearchIndexError

    from qa.errors import QAError

    try:
        return args.run(args) or 0
    except (QAError, SearchIndexError, ValueError) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nqa: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="index folder (default: $QA_DATA_DIR or ./.qa)")
    common.add_argument("--embedder", help="sentence-transformers model name or folder (default: packaged all-MiniLM-L6-v2)")
    common.add_argument("--embed-backend", choices=("torch", "onnx-int8"),
                        help="what runs the embedder: torch, or its int8 ONNX export (docs/embedding.md)")
    searching = argparse.ArgumentParser(add_help=False)
    from index.lexical import MODES

    searching.add_argument("--search", choices=MODES,
                           help="retrieval: BM25 and dense fused (hybrid, the default), dense or lexical only")
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--profile", help="model profile: default (1.5B) or fast (0.5B)")
    model.add_argument("--model", dest="model_path", help="any GGUF file (or repo_id:filename on the hub) instead of a profile")
    model.add_argument("--threads", dest="n_threads", type=int, help="CPU threads for the LLM (default: all cores)")
    model.add_argument("--n-ctx", type=int, help="LLM context window in tokens (default 4096)")
    model.add_argument("--max-tokens", type=int, help="longest answer in tokens (default 384)")
    model.add_argument("--llm-url", help="an OpenAI-compatible model server instead of the in-process model, "
                       "e.g. http://127.0.0.1:8080/v1 (QA_LLM_URL; its key: QA_LLM_API_KEY)")
    model.add_argument("--llm-model", help="the server's model name (QA_LLM_MODEL; default: the first it lists)")

    parser = argparse.ArgumentParser(prog="qa", description="Ask questions about your documents; "
                                     "answers cite the paragraphs they rest on.")
    sub = parser.add_subparsers(title="commands")

    p = sub.add_parser("index", parents=[common], help="build or update the index (default: seeds/)")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the seed folder)")
    p.add_argument("--rebuild", action="store_true", help="start from an empty index")
    p.add_argument("--prune", action="store_true",
                   help="drop the documents of a path that no longer exists (else such a path is refused)")
    p.add_argument("--follow-links", action="store_true",
                   help="follow symlinks that point outside the indexed folder (not followed by default)")
    p.set_defaults(run=cmd_index)

    p = sub.add_parser("search", parents=[common, searching], help="show the passages that best match a question")
    p.add_argument("question")
    p.add_argument("-k", "--k", type=int, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(run=cmd_search)

    p = sub.add_parser("ask", parents=[common, searching, model], help="answer a question with citations")
    p.add_argument("question", nargs="?", default=SEED_QUESTION, help=f'default: "{SEED_QUESTION}"')
    p.add_argument("-k", "--k", type=int, help="passages retrieved for the model (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("serve", parents=[common, searching, model], help="open the web chat (updates the index from seeds/ first)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--index-dir", dest="data_dir", type=Path, help="same as --data-dir")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("eval", parents=[common, searching, model], help="score retrieval, answers, citations, abstention and speed on a set")
    p.add_argument("set_dir", type=Path, nargs="?", help="a folder with corpus/ and questions.jsonl")
    p.add_argument("--limit", type=int, help="a fixed, seeded sample of this many questions")
    p.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0: the reported sample)")
    p.add_argument("--first", type=int, help="only the first N questions of the sample (a long run in parts)")
    p.add_argument("--part", type=part_arg, metavar="I/N",
                   help="only the I-th of N consecutive parts of the sample (a long run in parts; "
                        "default --out eval-reports/<set>/part-I-of-N); join them with --merge")
    p.add_argument("--merge", nargs="+", type=Path, metavar="REPORT",
                   help="instead of running: join the part reports (report.json or its folder) of one sample into "
                        "one report, every figure computed from their rows; parts that do not fit are refused")
    p.add_argument("--partial", action="store_true",
                   help="with --merge: accept parts that leave the first or last questions of the sample out")
    p.add_argument("-k", "--k", type=int, help="passages per question (default 5)")
    p.add_argument("--out", type=Path, help="report folder (default eval-reports/<set>)")
    p.add_argument("--retrieval-only", action="store_true", help="score retrieval without calling the LLM")
    p.add_argument("--baseline", choices=["naive", "none"], default="naive",
                   help="the yardstick run beside ours on the same questions: naive (the default), a plain RAG "
                        "(dense top-k whole paragraphs, a plain prompt, the same models); none to skip it")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("models", parents=[model], help="list model profiles and their files")
    p.add_argument("--verify", action="store_true", help="assemble and hash-check every installed profile")
    p.set_defaults(run=cmd_models)
    return parser


def settings_from(args):
    from qa.settings import Settings

    names = ("data_dir", "embedder", "embed_backend", "profile", "model_path", "n_threads", "n_ctx", "max_tokens", "k", "search",
             "llm_url", "llm_model")
    return Settings.from_env(**{n: getattr(args, n, None) for n in names})


def cmd_index(args) -> int:
    from index import Index
    from index.build import shown
    from qa.assistant import embedder_for

    s = settings_from(args)
    embedder = embedder_for(s)
    if args.rebuild:
        import shutil

        from index.store import open_store, store_kind

        if store_kind(s.store) != "local":  # the local store lives in the data folder, removed below
            open_store(s.store, s.data_dir).clear()  # (opening a damaged one would fail: rebuild must not)
        shutil.rmtree(s.data_dir, ignore_errors=True)
    index = Index.open(s.data_dir, embedder, create=True, store=s.store, limits=s.limits)
    report = index.sync(args.paths or [s.seeds], progress=True, prune=args.prune, follow_links=args.follow_links)
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if not (report.added or report.updated or report.unchanged or report.removed):  # found nothing readable
        print(f"qa: error: nothing was indexed: no readable document under {', '.join(map(shown, args.paths or [s.seeds]))}",
              file=sys.stderr)
        return 1
    print(f"{shown(s.data_dir)}: {len(index.documents())} documents, {len(index)} passages "
          f"({report.summary()})")
    return 0


def cmd_search(args) -> int:
    from qa.assistant import open_index

    s = settings_from(args)
    passages = open_index(s).search(args.question, s.k, s.search)
    if args.json:
        print(json.dumps([p.to_dict() for p in passages], ensure_ascii=False, indent=1))
        return 0
    for i, p in enumerate(passages, start=1):
        print(f"[{i}] {p.place}  score {p.score:.3f}  {p.title}\n    {_shorten(p.text, 400)}")
    if not passages:
        print("no passages (is the index empty?)")
    return 0


def cmd_ask(args) -> int:
    from qa.answer import Answer
    from qa.assistant import Assistant

    assistant = Assistant(settings_from(args))
    answer, streamed = None, []
    for item in assistant.stream(args.question, args.k):
        if isinstance(item, Answer):
            answer = item
        elif not args.json:
            streamed.append(item)
            print(item, end="", flush=True)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=1))
        return 0
    print()
    if answer.text != "".join(streamed).strip():  # the citation check changed it
        print(f"\nAfter checking each sentence against its source:\n{answer.text}")
        unsupported = [s.sentence for s in answer.support if not s.supported]
        for sentence in unsupported:
            print(f'  unsupported by the documents: "{_shorten(sentence, 120)}"')
    for note in answer.notes:
        print(f"note: {note}", file=sys.stderr)
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f'[{c.n}] {c.passage.place} — "{_shorten(c.passage.text, 300)}"')
    t = answer.timings
    first = f"{t.first_token_s:.1f} s to first token, " if t.first_token_s is not None else ""
    print(f"\n({first}{t.total_s:.1f} s in all; {t.prompt_tokens} prompt tokens, "
          f"{t.generated_tokens} generated)", file=sys.stderr)
    return 0


def cmd_serve(args) -> int:
    from .app import serve

    import os

    settings = settings_from(args)
    print(f"Opening the chat on http://{args.host}:{args.port}, the OpenAI-compatible API on "
          f"http://{args.host}:{args.port}/v1 (Ctrl+C to stop)")
    if settings.llm_url:
        print(f"answers come from the model server at {settings.llm_url}")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        api = ("the API needs QA_API_KEY" if os.environ.get("QA_API_KEY") else
               "QA_API_KEY is not set: so can the API")
        print(f"warning: bound beyond this machine: anyone who can reach {args.host}:{args.port} can use "
              f"the chat page and open the indexed documents; {api}", file=sys.stderr)
    serve(settings, args.host, args.port)
    return 0


def part_arg(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3) (`qa eval --part`; the range is checked against the sample)."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N, e.g. 2/3") from None
    return i, n


def cmd_eval(args) -> int:
    from qa.eval import evaluate, write

    if args.merge:
        return merge_reports(args)
    if args.set_dir is None:
        raise ValueError("qa eval needs a set folder (or --merge REPORT ...)")
    if args.partial:
        raise ValueError("--partial goes with --merge")
    s = settings_from(args)
    report = evaluate(args.set_dir, s, args.limit, args.k, args.retrieval_only, args.baseline == "naive",
                      seed=args.seed, first=args.first, part=args.part)
    out = args.out or Path("eval-reports") / args.set_dir.resolve().name
    if args.part and not args.out:
        out = out / "part-{}-of-{}".format(*args.part)
    show(report, write(report, out), args.json)
    return 0


def merge_reports(args) -> int:
    from qa.eval import load_parts, merge, write

    given = [name for name, on in [("a set folder", args.set_dir), ("--limit", args.limit), ("--first", args.first),
                                   ("--part", args.part), ("-k", args.k), ("--retrieval-only", args.retrieval_only)]
             if on]
    if given:
        raise ValueError(f"--merge joins reports already run; leave out {', '.join(given)}")
    parts = load_parts(args.merge)
    report = merge(parts, partial=args.partial)
    out = args.out or Path("eval-reports") / report.set
    for name, _ in parts:
        folder = Path(name) if Path(name).is_dir() else Path(name).parent
        if folder.resolve() == out.resolve():
            raise ValueError(f"--out {out} holds the part {name}: the merge would overwrite it; choose another folder")
    show(report, write(report, out), args.json)
    return 0


def show(report, out: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"summary": report.summary,
                          "yardstick": report.yardstick.summary if report.yardstick else None}, indent=1))
    else:
        print(report.markdown())
        print(f"report: {out} and {out.with_suffix('.json')}")


def cmd_models(args) -> int:
    from qa.catalogue import PROFILES, ensure, status

    s = settings_from(args)
    for profile in PROFILES.values():
        if args.verify and status(profile, s.cache_dir).parts_found == profile.parts:
            ensure(profile, s.cache_dir)
        st = status(profile, s.cache_dir)
        mark = "*" if profile.name == s.profile and not s.model_path else " "
        if st.verified:
            state = "verified"
        elif st.parts_found == profile.parts:
            state = "installed, assembled on first use" if not st.assembled else "assembled, not yet verified"
        else:
            state = f"not installed ({st.parts_found}/{profile.parts} parts): pip install {profile.dist}{{1..{profile.parts}}}=={profile.version}"
        print(f"{mark} {profile.name:8} {profile.description}\n    {st.path}  [{state}]")
    if s.model_path:
        print(f"* --model {s.model_path}")
    return 0


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


if __name__ == "__main__":
    sys.exit(main())
