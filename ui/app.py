"""The Gradio chat: a thin shell over `Assistant` and `Index`. The chat function is a generator;
what the page shows is built by the pure functions in `ui/format.py`."""
from __future__ import annotations

import html
import shutil
import time
from pathlib import Path
from urllib.parse import quote

from index import Index, SearchIndexError, SourceMissing
from index.build import file_hash
from index.clean import valid_text
from index.lexical import MODES
from index.readers import SUPPORTED
from qa import Answer, Assistant, QAError, Settings
from qa.catalogue import PROFILES, status
from qa.prompt import SEED_QUESTION

from .format import DOCUMENT_ROUTE, answer_chat, chat_text, draft_chat, found_html, sources_html

ALLOWED = SUPPORTED  # what the readers read (index/readers.py), so an upload and a folder agree
EXAMPLES = [SEED_QUESTION, 'Who is nicknamed "Doctor No"?',
            "What did Putin privately tell George W. Bush in 2008?"]
CSS = """
.qa-sources { font-size: 0.95em; line-height: 1.45; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 8px 0; }
.qa-source-head { font-weight: 600; margin-bottom: 4px; }
.qa-source mark { background: #fde68a; color: inherit; padding: 0 2px; }
.qa-neighbour { opacity: 0.75; }
.qa-warning { color: #b45309; font-weight: 600; }
.qa-open { font-weight: 400; font-size: 0.9em; margin-left: 6px; }
"""
TEXT_VIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


class NotServed(LookupError):
    """The document route refuses: not an indexed document, gone, changed, or not a file."""


class ChatApp:
    """State shared by every event: one index, one assistant per model profile."""

    def __init__(self, settings: Settings, index: Index, generator=None):
        self.settings = settings
        self.index = index
        self.uploads = Path(settings.data_dir) / "uploads"
        self.max_upload = settings.max_file_mb * 2**20
        self._assistants: dict[str, Assistant] = {}
        self._generator = generator  # tests may inject one; else each profile loads its GGUF

    def assistant(self, profile: str) -> Assistant:
        if profile not in self._assistants:
            settings = self.settings.but(profile=profile)
            self._assistants[profile] = Assistant(settings, self.index, self._generator)
        return self._assistants[profile]

    def titles(self) -> dict[str, str]:
        return {d.doc: d.title for d in self.index.documents()}

    def profiles(self) -> list[str]:
        installed = [n for n, p in PROFILES.items() if status(p, self.settings.cache_dir).installed]
        return installed or [self.settings.profile]

    # -- events ----------------------------------------------------------------------------------
    def respond(self, message: str, history: list[dict], k: int, profile: str, search: str | None = None):
        """Yields (chat history, sources panel) as the answer grows; the text streamed before the
        final answer is marked as a draft until its citations are checked."""
        import gradio as gr

        question = valid_text(message or "").strip()
        history = [{**m, "content": valid_text(m["content"])} if isinstance(m.get("content"), str) else m
                   for m in history]
        if not question:
            raise gr.Error("Type a question first.")
        earlier = [m["content"] for m in history if m.get("role") == "user" and isinstance(m.get("content"), str)]
        chat = history + [{"role": "user", "content": chat_text(question)},
                          {"role": "assistant", "content": "_Searching the documents…_"}]
        yield list(chat), ""
        try:
            assistant = self.assistant(profile)
            retrieval = assistant.retrieve(question, int(k), earlier, search)
            titles = self.titles()
            yield list(chat), found_html(retrieval.passages, titles)
            text = ""
            for item in assistant.stream(question, int(k), earlier, retrieval=retrieval):
                if isinstance(item, Answer):
                    chat[-1] = {"role": "assistant", "content": answer_chat(item)}
                    yield list(chat), sources_html(item, titles, self.index.neighbours, retrieval.passages)
                else:
                    text += item
                    chat[-1] = {"role": "assistant", "content": draft_chat(text)}
                    yield list(chat), found_html(retrieval.passages, titles)
        except (QAError, SearchIndexError, ValueError) as exc:
            raise gr.Error(str(exc)) from exc

    def upload(self, files, progress=None):
        """Index uploaded files; returns (status message, documents table, removable documents)."""
        lines = []
        accepted = []
        self.uploads.mkdir(parents=True, exist_ok=True)
        for f in files or []:
            path = Path(getattr(f, "name", f))
            name = path.name
            if path.suffix.lower() not in ALLOWED:
                lines.append(f"✗ {chat_text(name)}: unsupported file type {chat_text(path.suffix or '(none)')}; "
                             f"only {', '.join(ALLOWED)} files can be indexed")
            elif path.stat().st_size > self.max_upload:
                lines.append(f"✗ {chat_text(name)}: larger than {self.max_upload // 2**20} MB")
            else:
                target = self.uploads / name
                shutil.copyfile(path, target)
                accepted.append(target)
        if accepted:
            if progress is not None:
                progress(0.1, desc=f"Indexing {len(accepted)} file(s)…")
            report = self.index.add(accepted, prefix="uploads/")
            skipped = {Path(p).name: reason for p, reason in report.skipped}
            for target in accepted:
                if target.name in skipped:
                    lines.append(f"✗ {chat_text(target.name)}: {chat_text(skipped[target.name])}")
                    target.unlink(missing_ok=True)
                else:
                    verb = "updated" if f"uploads/{target.name}" in report.updated else (
                        "unchanged" if f"uploads/{target.name}" in report.unchanged else "indexed")
                    lines.append(f"✓ {chat_text(target.name)}: {verb}")
        return "\n".join(f"- {line}" for line in lines), *self.documents()

    def remove(self, doc: str):
        import gradio as gr

        if not doc:
            raise gr.Error("Choose a document to remove.")
        try:
            self.index.remove([doc])
        except KeyError as exc:
            raise gr.Error(f"{doc} is not in the index") from exc
        if doc.startswith("uploads/"):
            (self.uploads / doc.removeprefix("uploads/")).unlink(missing_ok=True)
        return f"- removed {chat_text(doc)}", *self.documents()

    # -- the originals, opened from a citation ---------------------------------------------------------
    def original(self, doc: str) -> Path:
        """The file an indexed document was read from, if it is still the one indexed. Only names
        in the index are looked up (never a path from the request), nothing inside the data folder
        but uploads is served, and a file changed or replaced since indexing is refused."""
        info = self.index.document(doc)
        if info is None or not info.get("source"):
            raise NotServed("not an indexed document")
        try:
            real = Path(info["source"]).resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise NotServed("the original file is gone") from exc
        data_dir, uploads = Path(self.settings.data_dir).resolve(), self.uploads.resolve()
        if (real == data_dir or data_dir in real.parents) and uploads not in real.parents:
            raise NotServed("not an indexed document")
        if not real.is_file() or file_hash(real) != info.get("sha256"):
            raise NotServed("the original has changed since it was indexed: re-index it")
        return real

    def text_view(self, doc: str) -> str:
        """The indexed text of a document as a page, each paragraph an anchor (#p7) with its location."""
        self.original(doc)
        title = self.index.document(doc).get("title") or doc
        rows, heading = [], None
        for p in self.index.in_document(doc):
            if p.title != heading and p.title != title:
                rows.append(f"<h2>{html.escape(p.title)}</h2>")
            heading = p.title
            anchor = f' id="p{p.paragraph}"' if p.part <= 1 else ""
            rows.append(f'<p{anchor}><small>{html.escape(p.where)}</small> {html.escape(p.text)}</p>')
        return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                "<style>body{font:16px/1.5 sans-serif;max-width:46em;margin:2em auto;padding:0 1em}"
                "small{color:#666;margin-right:.5em}:target{background:#fde68a}</style></head><body>"
                f"<h1>{html.escape(title)}</h1><p><small>{html.escape(doc)} — the text as indexed · "
                f'<a href="{html.escape(quote(Path(doc).name))}?download=1">download the original</a></small></p>'
                f'{"".join(rows)}</body></html>')

    def documents(self):
        import gradio as gr

        docs = self.index.documents()
        rows = [[d.title, d.doc, d.paragraphs] for d in docs]
        return rows, gr.update(choices=[d.doc for d in docs], value=None)


def build(app: ChatApp):
    import gradio as gr

    profiles = app.profiles()
    with gr.Blocks(title="Ask your documents") as demo:
        gr.Markdown("## Ask your documents\nAnswers come only from the indexed documents. Each "
                    "[n] in an answer is a paragraph shown in the sources panel, with the sentence it "
                    "rests on highlighted.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chatbot = gr.Chatbot(label="Chat", height=480, render_markdown=True, sanitize_html=True,
                                     allow_tags=False, elem_id="chat", buttons=["copy"])
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                     scale=8, elem_id="question", max_lines=4, container=False)
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="ask")
                    stop = gr.Button("Stop", scale=1, min_width=70, elem_id="stop")
                with gr.Row():
                    clear = gr.Button("Clear chat", size="sm", elem_id="clear")
                gr.Examples(EXAMPLES, inputs=box, label="Try")
            with gr.Column(scale=2, min_width=280):
                sources = gr.HTML("<p>Sources appear here.</p>", label="Sources", elem_id="sources")
        with gr.Accordion("Documents", open=False, elem_id="documents"):
            files = gr.File(label=f"Add {', '.join(ALLOWED)} files ({app.max_upload // 2**20} MB at most each)",
                            file_count="multiple",
                            file_types=list(ALLOWED), elem_id="upload")
            status_md = gr.Markdown(elem_id="upload-status")
            rows, choices = app.documents()
            table = gr.Dataframe(value=rows, headers=["title", "document", "paragraphs"], interactive=False,
                                 elem_id="doc-table")
            with gr.Row():
                pick = gr.Dropdown(choices=choices["choices"], label="Remove a document", elem_id="remove-pick")
                remove = gr.Button("Remove", elem_id="remove")
        with gr.Accordion("Settings", open=False, elem_id="settings"):
            k = gr.Slider(1, 10, value=app.settings.k, step=1, label="Passages per question")
            profile = gr.Dropdown(profiles, value=app.settings.profile if app.settings.profile in profiles
                                  else profiles[0], label="Model profile")
            search = gr.Radio(list(MODES), value=app.settings.search, label="Search",
                              info="hybrid: meaning and keywords together; dense: meaning only; "
                                   "lexical: keywords only (BM25)", elem_id="search-mode")

        inputs = [box, chatbot, k, profile, search]
        events = [trigger(app.respond, inputs, [chatbot, sources], concurrency_id="llm")
                  for trigger in (box.submit, send.click)]
        for event in events:
            event.then(lambda: "", None, box)
        stop.click(None, None, None, cancels=events)
        clear.click(lambda: ([], "<p>Sources appear here.</p>"), None, [chatbot, sources], cancels=events)

        def on_upload(uploaded, progress=gr.Progress()):
            return app.upload(uploaded, progress)

        files.upload(on_upload, files, [status_md, table, pick], concurrency_id="llm")
        remove.click(app.remove, pick, [status_md, table, pick], concurrency_id="llm")
    return demo


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860, generator=None, block: bool = True):
    """Update the index from the seed folder, then serve the chat and the OpenAI-compatible API
    (ui/api.py) on host:port. With `block=False` the server runs in a thread: `stop(app.server)`
    stops it."""
    from qa import open_index

    index = open_index(settings)
    try:
        report = index.sync([settings.seeds], progress=True)
    except SourceMissing as exc:  # e.g. seeds/ on a drive not mounted: serve the index as it is
        print(f"index not updated: {exc}")
    else:
        if report.changed:
            print(f"index: {report.summary()}")
        for path, reason in report.skipped:
            print(f"skipped {path}: {reason}")
    app = ChatApp(settings, index, generator)
    demo = build(app)
    app.server = start(asgi(app, demo, host, port), host, port, block)
    return demo, app


def asgi(app: ChatApp, demo, host: str = "127.0.0.1", port: int = 7860):
    """The API's FastAPI app with the chat page mounted at /."""
    import gradio as gr

    from .api import build_api

    settings = app.settings
    # one lock serialises the in-process model; a model server takes several questions at once
    demo.queue(default_concurrency_limit=settings.llm_parallel if settings.llm_url else 1, max_size=16)
    api = build_api(app, settings)
    add_document_route(api, app)  # before the page is mounted at /, which would take every path
    return gr.mount_gradio_app(api, demo, path="/", server_name=host, server_port=port, footer_links=[],
                               blocked_paths=[str(Path(settings.data_dir).resolve())], max_file_size=app.max_upload,
                               show_error=True, css=CSS, ssr_mode=False)


def start(api, host: str, port: int, block: bool = True):
    """Run `api` with uvicorn on host:port; in a thread when not `block` (returns once it listens)."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(api, host=host, port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    if block:
        server.run()
        return server
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    server.thread = thread  # for `stop`
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        raise OSError(f"cannot serve on {host}:{port}")
    return server


def stop(server, timeout: float = 10.0) -> None:
    """Stop a server that `start` ran in a thread and wait until its port is free again."""
    server.should_exit = True
    server.thread.join(timeout)
    if server.thread.is_alive():
        raise RuntimeError(f"the server did not stop within {timeout:.0f} s")


def add_document_route(server, app: ChatApp) -> None:
    """GET /documents/<doc>: the original of an indexed document — a PDF inline (the browser's
    viewer opens it at #page=N), any other format as its indexed text (`?view=text`, #pN at the
    paragraph) or as a download (`?download=1`). Nothing but indexed documents is served."""
    from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse

    def document(doc: str, view: str = "", download: str = ""):
        try:
            if view == "text":
                return HTMLResponse(app.text_view(doc), headers={"Content-Security-Policy": TEXT_VIEW_CSP,
                                                                 "X-Content-Type-Options": "nosniff"})
            path = app.original(doc)
        except NotServed as exc:
            return PlainTextResponse(str(exc), status_code=404)
        if path.suffix.lower() == ".pdf" and not download:
            return FileResponse(path, media_type="application/pdf", content_disposition_type="inline",
                                filename=path.name, headers={"X-Content-Type-Options": "nosniff"})
        return FileResponse(path, media_type="application/octet-stream", filename=path.name,
                            headers={"X-Content-Type-Options": "nosniff"})

    server.add_api_route(f"/{DOCUMENT_ROUTE}/{{doc:path}}", document, methods=["GET"])
