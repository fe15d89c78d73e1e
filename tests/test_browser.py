"""The web chat in a real browser: headless Chromium (Debian's package) driven by Playwright,
against `qa serve`'s app with the real default models. Screenshots go to test-artifacts/screenshots/.
"""
import os
import shutil
import socket
from pathlib import Path

import pytest

from qa import Settings

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
DATA = Path(__file__).parent / "data"
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
HOSTILE = "notes <img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from ui.app import serve, stop

    from .conftest import SEED

    seeds = tmp_path_factory.mktemp("seeds")
    shutil.copy(SEED, seeds / SEED.name)
    # a name an old Latin-1 system wrote (not UTF-8): `qa serve` must start and list it anyway
    (seeds / os.fsdecode(b"caf\xe9.txt")).write_text("Coffee is sold in the old square of Vella.\n")
    # markup in a file name and a title (an upload's name is cleaned by Gradio; a folder's is not)
    (seeds / f"{HOSTILE}.txt").write_text(f"{HOSTILE}\n\nThe night ferry to Vella leaves at nine.\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("data"), seeds=seeds)
    _, app = serve(settings, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/", app
    stop(app.server)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.events = {"dialogs": [], "requests": []}
    page.on("dialog", lambda d: (page.events["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: page.events["requests"].append(r.url))
    page.goto(server[0])
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def ask(page, question: str, shot: str) -> str:
    """Type a question, press Enter, wait for the final answer; returns the last bot message."""
    bots = page.locator("#chat .bot")
    before = bots.count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_selector("#sources >> text=/Found \\d+ passages|do not answer/", timeout=120_000)
    page.screenshot(path=str(SHOTS / f"{shot}-1-searching.png"))
    # the final render replaces "Found … reading them" by the sources or the abstention
    page.wait_for_function("""() => { const s = document.querySelector('#sources');
        return s && !s.innerText.includes('reading them') && s.innerText.trim().length > 0; }""",
                           timeout=300_000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{shot}-2-answer.png"), full_page=True)
    assert bots.count() > before
    return bots.last.inner_text()


def test_doctor_no(page):
    reply = ask(page, 'Who is nicknamed "Doctor No"?', "01-doctor-no")
    assert "Lavrov" in reply
    cited = page.locator("#sources .qa-source")
    assert cited.count() >= 1 and "Doctor No" in cited.first.inner_text()
    assert page.locator("#sources mark").count() >= 1  # the cited sentence is highlighted
    page.locator("#sources .qa-source summary").first.click()
    page.screenshot(path=str(SHOTS / "01-doctor-no-3-neighbours.png"), full_page=True)
    assert "¶2" in page.locator("#sources .qa-source").first.inner_text()
    checked = page.locator("#sources .qa-support")
    checked.locator("summary").click()  # each sentence with the paragraph that supports it
    assert "supported by [1] ¶3" in checked.inner_text()


def test_unanswerable_question_abstains(page):
    reply = ask(page, "What is the population of Sevastopol?", "02-abstain")
    assert "The documents do not say." in reply
    assert page.locator("#sources .qa-source").count() == 0


def test_keyword_search_chosen_in_settings(page, server, monkeypatch):
    modes = []
    search = server[1].index.search
    monkeypatch.setattr(server[1].index, "search", lambda q, k=5, mode="hybrid": modes.append(mode) or search(q, k, mode))
    page.locator("#settings").click()
    page.locator("#search-mode label", has_text="lexical").click()
    page.screenshot(path=str(SHOTS / "08-settings-lexical.png"), full_page=True)
    reply = ask(page, 'Who is nicknamed "Doctor No"?', "08-lexical")
    assert "Lavrov" in reply and "Draft:" not in reply  # the checked answer replaced the draft
    assert modes == ["lexical"]


def test_upload_then_ask(page, server):
    page.locator("#documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(DATA / "lighthouse.md"))
    page.wait_for_selector("#upload-status >> text=lighthouse.md", timeout=120_000)
    page.wait_for_selector("#doc-table >> text=uploads/lighthouse.md", timeout=30_000)
    page.screenshot(path=str(SHOTS / "03-upload-1-indexed.png"), full_page=True)
    reply = ask(page, "Who designed the lighthouse at Cape Vella?", "03-upload")
    assert "Quist" in reply
    assert "uploads/lighthouse.md" in {d.doc for d in server[1].index.documents()}


def test_xss_document_renders_inert(page):
    page.locator("#documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(DATA / "xss.md"))
    page.wait_for_selector("#upload-status >> text=xss.md", timeout=120_000)
    ask(page, "Who is the harbour master of Port Elm?", "04-xss")
    sources = page.locator("#sources")
    uncited = page.locator("#sources details.qa-uncited")
    if uncited.count():
        uncited.first.locator("summary").click()
    page.screenshot(path=str(SHOTS / "04-xss-3-sources-open.png"), full_page=True)
    assert "<img src=x onerror=alert(1)>" in sources.inner_text()  # shown as text
    assert page.locator("#sources img, #chat .bot img").count() == 0
    assert page.events["dialogs"] == []
    assert not [u for u in page.events["requests"] if "127.0.0.1:9" in u]


def test_hostile_titles_in_the_document_list_are_text(page, tmp_path):
    upload = tmp_path / "tides.txt"
    upload.write_text(f"Tides {HOSTILE}\n\nThe tide tables of Port Elm are pinned by the harbour office door.\n")
    page.locator("#documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(upload))
    page.wait_for_selector("#doc-table >> text=uploads/tides.txt", timeout=120_000)  # the table after an update
    table = page.locator("#doc-table").inner_text()
    assert f"Tides {HOSTILE}" in table  # an uploaded document's title, shown as text
    assert f"{HOSTILE}\n{HOSTILE}.txt" in table  # a folder document's title and name
    assert "caf\\xe9.txt" in table  # the Latin-1 file name from seeds/, escaped
    page.locator("#remove-pick input").click()
    option = page.get_by_role("option", name=f"{HOSTILE}.txt")
    option.wait_for(timeout=10_000)
    page.screenshot(path=str(SHOTS / "09-hostile-titles.png"), full_page=True)
    assert option.inner_text().strip() == f"{HOSTILE}.txt"  # the remove drop-down shows it as text
    option.click()
    assert page.locator("#remove-pick input").input_value() == f"{HOSTILE}.txt"
    page.wait_for_timeout(500)
    assert page.locator("img[src=x], #documents img").count() == 0  # no element was made of it
    assert page.events["dialogs"] == []  # and no script ran


def test_two_people_at_once(browser, server):
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    questions = [('Who is nicknamed "Doctor No"?', "Lavrov"),
                 ("Which Georgian regions did Russian forces seize in 2008?", "Ossetia")]
    for p in pages:
        p.goto(server[0])
        p.wait_for_selector("#question textarea")
    for p, (q, _) in zip(pages, questions):
        p.fill("#question textarea", q)
    for p in pages:  # both submitted before either answer arrives
        p.keyboard.press("Enter")
    for i, (p, (_, expected)) in enumerate(zip(pages, questions)):
        p.wait_for_function("""() => { const s = document.querySelector('#sources');
            return s && s.querySelector('.qa-source, .qa-uncited'); }""", timeout=300_000)
        p.screenshot(path=str(SHOTS / f"05-concurrent-{i}.png"), full_page=True)
        assert expected in p.locator("#chat .bot").last.inner_text()
    for c in contexts:
        c.close()


def test_phone_width(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    page.goto(server[0])
    page.wait_for_selector("#question textarea")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "06-phone.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400  # no sideways scrolling on a phone
    context.close()


def test_index_and_uploads_are_not_served(server):
    import urllib.error
    import urllib.request

    url, app = server
    stored = (app.index.data_dir / "passages.sqlite").resolve()
    assert stored.exists()
    for path in (f"gradio_api/file={stored}", f"file={stored}"):
        try:
            with urllib.request.urlopen(url + path, timeout=10) as response:
                body = response.read()
            assert b"SQLite format" not in body, path
        except urllib.error.HTTPError as exc:
            assert exc.code in (403, 404), path


def test_pdf_citation_opens_at_its_page(page, server, tmp_path):
    import urllib.error
    import urllib.request

    from .formats import write_pdf

    url, app = server
    folder = tmp_path / "reports"
    folder.mkdir()
    write_pdf(folder / "survey.pdf")  # the fact is on page 3
    app.index.sync([folder])
    ask(page, "By how much was the breakwater lengthened?", "09-pdf-page")
    source = page.locator("#sources .qa-source", has_text="ninety metres").first
    assert "survey.pdf — p. 3" in source.locator(".qa-source-head").inner_text()
    link = source.locator("a.qa-open")
    assert link.get_attribute("href") == "documents/survey.pdf#page=3"
    with page.context.expect_page() as opened:
        link.click()
    viewer = opened.value
    viewer.wait_for_load_state()
    assert viewer.url == f"{url}documents/survey.pdf#page=3"
    response = page.context.request.get(f"{url}documents/survey.pdf")
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body() == (folder / "survey.pdf").read_bytes()
    viewer.close()
    for path in ("documents/passages.sqlite", "documents/..%2Fpassages.sqlite", "documents/uploads",
                 f"documents/{app.index.data_dir.resolve() / 'passages.sqlite'}", "documents/manifest.json"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url + path, timeout=10)
        assert info.value.code == 404, path
