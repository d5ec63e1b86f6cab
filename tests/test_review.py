"""The review page: manual questions and answers read from the submissions, rendered safely,
served to whoever holds the token, marks stored as typed; then the same in a real browser.

The class under tests/data/review/ (made by its make.py) holds one question of each kind graded
by hand and five pairs: good answers, attacks, stubs, a notebook saved from Colab, a partial one.
"""

from __future__ import annotations

import base64
import csv
import http.client
import json
import os
import re
import shutil
import time
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder import answer_html
from autograder.config import load_course
from autograder.errors import ConfigError, SubmissionError
from autograder.gradebook import build_gradebook
from autograder.marks import read_marks
from autograder.review import (
    CODE,
    MISSING,
    NO_RESPONSE,
    SEED_FILE,
    TASK,
    UNREADABLE,
    WRITTEN,
    load_review,
    read_submitted,
    review_order,
    split_mark_scheme,
)
from autograder.review_server import CSP, ReviewServer

DATA = Path(__file__).parent / "data" / "review"
HW = "essay"
NAMES = ["Léa", "Martin", "Hugo", "Bernard", "Chloé", "Dubois", "Lucas", "Thomas", "Manon",
         "Robert", "Jules", "Petit", "Inès", "Durand", "Adam", "Leroy", "Zoé", "Moreau", "Noah",
         "Simon", "pair-a", "pair-b", "pair-c", "pair-d", "pair-e", "3001", "3004", "3010"]


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    """A copy of the test class: marks are written into its results folder."""
    shutil.copytree(DATA, tmp_path / "course", ignore=shutil.ignore_patterns("make.py"))
    return tmp_path / "course"


def load(course_dir: Path, **options):
    course = load_course(course_dir / "course.toml")
    return load_review(course=course, assignment=HW, results=[course_dir / "results"],
                       submissions=course_dir / "submissions", **options)


def by_pair(review, question: str) -> dict:
    return {a.submission_id: a for a in review.answers[question]}


# ---------------------------------------------------------------- what is reviewed

def test_every_kind_of_manual_question_with_its_reference_and_rubric(course_dir):
    review = load(course_dir)
    assert [(q.grade_id, q.kind, q.title, q.max_points) for q in review.questions] == [
        ("why_bias", WRITTEN, "2. Why a bias?", 2.0), ("loop", CODE, "3. A loop", 1.0),
        ("plot_task", TASK, "4. A plot", 2.0)]
    why, loop, task = review.questions
    assert "Explain in two sentences" in why.prompt
    assert '<span class="math inline">w^\\top x = 0</span>' in why.reference
    assert '<div class="math block">' in why.reference  # $$…$$ on its own lines
    assert "the bias shifts it" in why.rubric and "MARK SCHEME" not in why.reference + why.rubric
    assert "the bias shifts it" not in why.reference
    # A code cell's scheme is comments: shown as text, gone from the highlighted reference.
    assert "a loop (or <code>sum</code>)" in loop.rubric
    assert "result" in loop.reference and "BEGIN SOLUTION" not in loop.reference
    assert "MARK SCHEME" not in loop.reference and "a loop (or" not in loop.reference
    assert "Plot <code>square</code>" in task.prompt and task.reference == ""
    assert "a parabola" in task.rubric and "MARK SCHEME" not in task.prompt


def test_mark_scheme_split_keeps_the_rest():
    text = "intro\n=== BEGIN MARK SCHEME ===\n- 1 pt\n=== END MARK SCHEME ===\noutro"
    assert split_mark_scheme(text) == ("intro\noutro", "- 1 pt")
    code = "x = 1\n    ### BEGIN MARK SCHEME\n    # - loop\n    #   nested\n    ### END MARK SCHEME"
    assert split_mark_scheme(code, code=True) == ("x = 1", "- loop\n  nested")


def test_answers_are_found_as_the_grader_matched_them(course_dir):
    review = load(course_dir)
    why, loop, task = (by_pair(review, q) for q in ("why_bias", "loop", "plot_task"))
    # Written answer: markdown, LaTeX kept for KaTeX, a table, the cell's attachment served.
    a = why["pair-a"]
    assert "a line through the origin" in a.html and "<table>" in a.html
    assert '<span class="math inline">\\{x : w^\\top x = 0\\}</span>' in a.html
    image = a.html.split('<img src="/img/')[1].split('"')[0]
    assert review.images[image][0] == "image/png"
    assert review.images[image][1].startswith(b"\x89PNG")
    # Colab dropped every cell's metadata: the answers are still found, by content.
    assert "must pass through" in why["pair-d"].html and "sum" in loop["pair-d"].html
    # Stubs: the result says not attempted, so no mark is needed (the gradebook's 0).
    assert why["pair-c"].status == NO_RESPONSE and loop["pair-e"].status == NO_RESPONSE
    # A code answer is highlighted; a task's answer is the pair's own cells after it.
    assert '<span class="k">for</span>' in loop["pair-a"].html
    assert "linspace" in task["pair-a"].html and "A parabola" in task["pair-a"].html
    assert '<img class="output"' in task["pair-a"].html and "plotted" in task["pair-a"].html
    assert task["pair-c"].status == MISSING
    # Names from the roster, with the submission id.
    assert why["pair-a"].label == "Léa Martin, Hugo Bernard (pair-a)"


def test_no_result_with_manual_questions_is_a_clear_error(course_dir):
    shutil.rmtree(course_dir / "results")
    with pytest.raises(ConfigError, match="no result of essay has a question graded by hand"):
        load(course_dir)


@pytest.mark.kernel
def test_what_the_engine_writes_is_what_the_page_reviews(tmp_path):
    """A real grading (sandboxed kernel, judge): the written answer it leaves to mark by hand is
    found again in the submission, beside the source's reference and mark scheme."""
    from autograder import sandbox
    from autograder.engine import grade_submission
    from autograder.results import write_result

    if not (sandbox.bwrap_available() and sandbox.template_available()):
        pytest.skip("root, Linux namespaces and bubblewrap are needed for the sandbox")
    engine = Path(__file__).parent / "data" / "engine"
    course = load_course(engine / "course.toml")
    result = grade_submission(engine / "submissions" / "solution.ipynb", course=course,
                              assignment="tiny")
    assert [q.grade_id for q in result.questions if q.manual] == ["why"]
    result.source = "solution.ipynb"  # as the batch records it, relative to the folder
    write_result(result, tmp_path / "results" / "tiny" / f"{result.submission_id}.json")
    review = load_review(course=course, assignment="tiny", results=[tmp_path / "results"],
                         submissions=engine / "submissions")
    (question,) = review.questions
    assert question.kind == WRITTEN and question.max_points == 1
    assert "law of large numbers" in question.rubric and "Law of large" in question.reference
    (answer,) = review.answers["why"]
    assert answer.status == "answered" and "Law of large numbers" in answer.html


# ---------------------------------------------------------------- untrusted text and files

class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, dict(attrs)))


OUR_CLASSES = {"highlight", "output", "cell", "cut", "raw"}
PYGMENTS = re.compile(r"^[a-z][a-z0-9]{0,2}$")  # k, nf, s1, …: a token's class


def assert_inert(fragment: str) -> None:
    """Only allowlisted tags; no handler, style or id; links to http(s)/mailto; images ours."""
    parser = _Tags()
    parser.feed(fragment)
    for tag, attrs in parser.found:
        assert tag in answer_html.TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on") and name not in ("style", "id", "srcdoc"), name
            if name == "href":
                assert value.split(":")[0] in ("http", "https", "mailto"), value
            if name == "src":
                assert tag == "img" and value.startswith("/img/"), value
            if name == "class":  # math for KaTeX, or what this code writes (pygments' tokens)
                assert all(c in answer_html.MATH_CLASSES | OUR_CLASSES or PYGMENTS.match(c)
                           for c in value.split()), value
    lowered = fragment.lower()  # escaped text (&lt;script) is fine; a tag is not
    for banned in ("script", "svg", "iframe", "style", "form", "object", "embed", "meta", "base",
                   "link", "math", "noscript"):
        assert f"<{banned}" not in lowered, banned


HOSTILE = [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">',
    "[x](javascript:alert(1))", '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>', '<a href="data:text/html,<script>1</script>">x</a>',
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    "![s](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>', "<object data=x></object>",
    '<details open ontoggle="alert(1)">x</details>', "<style>*{display:none}</style>",
    '<form><button formaction="javascript:alert(1)">x</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', '<base href="http://x/">',
    '<div style="position:fixed" id="answers" class="answer current">x</div>',
    '$x</span><img src=x onerror=alert(1)>$', '<img src="http://attacker.invalid/t.png">',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<a href="https://ok.example" onclick="alert(1)">ok</a>',
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_markdown_renders_inert(payload):
    assert_inert(answer_html.markdown_html(payload, images=lambda mime, data: "/img/x"))


def test_outputs_never_render_html_svg_or_javascript():
    out = answer_html.outputs_html([{"output_type": "display_data", "data": {
        "text/html": "<script>alert(1)</script>", "image/svg+xml": "<svg onload=alert(1)>",
        "application/javascript": "alert(1)", "text/plain": "<HTML object>"}},
        {"output_type": "error", "ename": "<b>E</b>", "evalue": "<script>x</script>"}])
    assert out == ('<pre class="output">&lt;HTML object&gt;</pre>'
                   '<pre class="output">&lt;b&gt;E&lt;/b&gt;: &lt;script&gt;x&lt;/script&gt;</pre>')


def test_an_output_image_past_the_image_budget_leaves_its_text():
    """Past the page's image budget the sink keeps no more images (it gives no URL): the output
    shows its text instead, and the answer still renders."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"x" * 64).decode()
    output = {"output_type": "display_data",
              "data": {"image/png": png, "text/plain": "<Figure size 640x480>"}}
    kept = answer_html.outputs_html([output], images=lambda mime, data: "/img/1")
    assert kept.startswith('<img class="output"') and 'src="/img/1"' in kept
    full = answer_html.outputs_html([output], images=lambda mime, data: None)
    assert full == '<pre class="output">&lt;Figure size 640x480&gt;</pre>'


def test_the_hostile_pair_renders_inert_everywhere(course_dir):
    review = load(course_dir)
    for question in review.questions:
        answer = by_pair(review, question.grade_id)["pair-b"]
        assert_inert(answer.html)
    assert "Our answer" in by_pair(review, "why_bias")["pair-b"].html


def test_submitted_files_are_read_as_data(tmp_path):
    root = tmp_path / "subs"
    (root / "p").mkdir(parents=True)
    (root / "p" / "ok.ipynb").write_text("{}")
    outside = tmp_path / "secret.ipynb"
    outside.write_text("secret")
    assert read_submitted(root, "p/ok.ipynb") == b"{}"
    (root / "p" / "link.ipynb").symlink_to(outside)
    (root / "q").symlink_to(tmp_path)  # a linked folder on the way
    os.mkfifo(root / "p" / "fifo.ipynb")
    with open(root / "p" / "big.ipynb", "wb") as fh:
        fh.truncate(51 * 1024 * 1024)  # sparse: costs no disk
    refused = {"p/link.ipynb": "symbolic link", "q/secret.ipynb": "symbolic link",
               "p/fifo.ipynb": "named pipe", "p/big.ipynb": "larger than 50 MB",
               "../secret.ipynb": "no usable file", "/etc/passwd": "no usable file",
               "": "no usable file", "p/gone.ipynb": "no longer in the submissions folder"}
    for name, why in refused.items():
        with pytest.raises(SubmissionError, match=why):
            read_submitted(root, name)
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("p/ok.ipynb", "{}")
        link = zipfile.ZipInfo("p/link.ipynb")
        link.external_attr = 0o120777 << 16  # a symbolic link entry
        zf.writestr(link, "/etc/passwd")
    assert read_submitted(archive, "p/ok.ipynb") == b"{}"
    with pytest.raises(SubmissionError, match="not a regular file"):
        read_submitted(archive, "p/link.ipynb")
    with pytest.raises(SubmissionError, match="no such entry"):
        read_submitted(archive, "p/none.ipynb")


def test_a_broken_notebook_becomes_an_answer_that_says_why(course_dir):
    notebook = course_dir / "submissions" / "pair-e" / "essay.ipynb"
    notebook.write_text("[" * 100_000)  # nested past any parser's recursion limit
    (course_dir / "submissions" / "pair-d" / "essay.ipynb").unlink()
    review = load(course_dir)
    why = by_pair(review, "why_bias")
    assert why["pair-e"].status == UNREADABLE and "not a valid notebook" in why["pair-e"].note
    assert why["pair-d"].status == UNREADABLE
    assert "no longer in the submissions folder" in why["pair-d"].note
    assert why["pair-a"].status != UNREADABLE  # the others are unharmed


# ---------------------------------------------------------------- blind grading

def test_blind_order_is_random_stable_and_names_are_hidden(course_dir):
    seed_file = course_dir / "results" / HW / "marks" / SEED_FILE
    first = load(course_dir, blind=True)
    assert seed_file.is_file()  # made once, kept for the next start and the other TAs
    again = load(course_dir, blind=True)
    for q in first.questions:
        ids = [a.submission_id for a in first.answers[q.grade_id]]
        assert ids == [a.submission_id for a in again.answers[q.grade_id]]
        assert [a.label for a in first.answers[q.grade_id]] == [
            f"Pair {n}" for n in range(1, len(ids) + 1)]
    # Shuffled per question by the seed (a pair's place tells nothing across questions).
    orders = {tuple(review_order([f"s{i}" for i in range(20)], question=q, seed="k"))
              for q in ("a", "b")}
    assert len(orders) == 2 and sorted(next(iter(orders))) != list(next(iter(orders)))
    with ReviewServer(first) as server:
        for q in first.questions:
            status, _, body = request(server, "GET", f"/api/questions/{q.grade_id}",
                                      headers=auth(server))
            assert status == 200
            text = body.decode()
            assert not [name for name in NAMES if name in text]


# ---------------------------------------------------------------- the server

def request(server, method, path, *, headers=None, body=None, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = dict(headers or {})
    if host is not None:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host)
        for k, v in headers.items():
            conn.putheader(k, v)
        data = json.dumps(body).encode() if body is not None else b""
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
    else:
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=headers)
    reply = conn.getresponse()
    out = (reply.status, dict(reply.getheaders()), reply.read())
    conn.close()
    return out


def auth(server) -> dict:
    return {"Authorization": f"token {server.token}"}


def test_only_the_token_holder_is_served(course_dir):
    review = load(course_dir)
    with ReviewServer(review) as server:
        assert server.httpd.server_address[0] == "127.0.0.1"
        for path in ("/", "/static/review.js", "/api/questions", "/api/questions/why_bias",
                     f"/img/{next(iter(review.images))}", "/?token=wrong"):
            status, headers, _ = request(server, "GET", path)
            assert status == 403, path
            assert headers["Content-Security-Policy"] == CSP
        # The token in the address: kept in an HttpOnly cookie, dropped from the address bar.
        status, headers, _ = request(server, "GET", f"/?token={server.token}")
        assert status == 303 and headers["Location"] == "/"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        status, headers, page = request(server, "GET", "/", headers={"Cookie": cookie})
        assert status == 200 and b"review.js" in page
        assert headers["Content-Security-Policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert request(server, "GET", "/static/review.js", headers={"Cookie": cookie})[0] == 200
        assert request(server, "GET", "/static/katex/katex.min.js",
                       headers={"Cookie": cookie})[0] == 200
        assert request(server, "GET", "/static/../marks.py", headers={"Cookie": cookie})[0] == 404
        # The API wants the token in a header: a cookie alone (another site's page) is refused.
        assert request(server, "GET", "/api/questions", headers={"Cookie": cookie})[0] == 403
        assert request(server, "GET", "/api/questions", headers=auth(server))[0] == 200
        # A page reached through another host name (DNS rebinding) is refused; this machine's
        # names on any port (an SSH tunnel) are not.
        for host, status in [("attacker.invalid", 403), ("127.0.0.1.attacker.invalid:80", 403),
                             (f"127.0.0.1:{server.port}", 200), ("localhost:8888", 200)]:
            assert request(server, "GET", "/api/questions", headers=auth(server),
                           host=host)[0] == status, host


def test_a_broken_marks_file_is_named_never_overwritten(course_dir):
    review = load(course_dir)
    broken = course_dir / "results" / HW / "marks" / "pair-a.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    with ReviewServer(review) as server:
        status, _, body = request(server, "GET", "/api/questions", headers=auth(server))
        assert status == 500 and "cannot read the marks file" in json.loads(body)["error"]
        key = by_pair(review, "why_bias")["pair-a"].key
        status, _, body = request(server, "PUT", f"/api/marks/{key}", headers=auth(server),
                                  body={"points": 1, "comment": ""})
        assert status == 500 and "pair-a.json" in json.loads(body)["error"]
    assert broken.read_text() == "{not json"


def test_marks_are_stored_as_typed_within_bounds(course_dir):
    review = load(course_dir)
    results = course_dir / "results"
    key = {a.submission_id: a.key for a in review.answers["why_bias"]}
    with ReviewServer(review) as server:
        put = lambda k, body, **kw: request(server, "PUT", f"/api/marks/{k}",  # noqa: E731
                                            headers={**auth(server), **kw}, body=body)
        status, _, body = put(key["pair-a"], {"points": "1,5", "comment": "clear"})
        assert status == 200, body
        reply = json.loads(body)
        assert reply["points"] == 1.5 and reply["progress"] == {"graded": 2, "total": 5}
        mark = read_marks(results, HW, "pair-a")["why_bias"]
        assert (mark.points, mark.comment, mark.origin) == (1.5, "clear", "review")
        for bad, why in [("3", "outside 0 to 2"), ("-1", "outside 0 to 2"),
                         ("lots", "not a number"), (True, "not a number")]:
            status, _, body = put(key["pair-a"], {"points": bad, "comment": ""})
            assert status == 400 and why in json.loads(body)["error"]
        assert read_marks(results, HW, "pair-a")["why_bias"].points == 1.5  # unchanged
        assert put(key["pair-a"], {"points": None, "comment": "clear"})[0] == 200  # cleared
        assert read_marks(results, HW, "pair-a")["why_bias"].cleared
        assert put("pair-a", {"points": 1})[0] == 404  # the page's keys, never submission ids
        assert put(key["pair-b"], {"points": 1}, Origin="http://attacker.invalid")[0] == 403
        assert request(server, "PUT", f"/api/marks/{key['pair-b']}", body={"points": 1})[0] == 403
        status, _, _ = request(server, "PUT", f"/api/marks/{key['pair-b']}",
                               headers={**auth(server), "Content-Type": "text/plain"},
                               body={"points": 1})
        assert status == 415
        assert "pair-b" not in [p.stem for p in (results / HW / "marks").glob("*.json")]


def test_marks_from_the_page_reach_the_gradebook(course_dir):
    review = load(course_dir)
    course = load_course(course_dir / "course.toml")
    with ReviewServer(review) as server:
        for qid, pair, points in [("why_bias", "pair-a", 2), ("loop", "pair-a", 1),
                                  ("why_bias", "pair-d", 0.5)]:
            key = by_pair(review, qid)[pair].key
            assert request(server, "PUT", f"/api/marks/{key}", headers=auth(server),
                           body={"points": points, "comment": ""})[0] == 200
    book = build_gradebook(course=course, assignments=[HW], results=[course_dir / "results"],
                           out=course_dir / "grades.xlsx")
    rows = read_csv(book.csv)
    # Both members of a pair share its mark.
    for student in ("3001", "3002"):
        assert float(rows[student][f"{HW} why_bias (manual)"]) == 2
        assert float(rows[student][f"{HW} loop (manual)"]) == 1
    assert float(rows["3007"][f"{HW} why_bias (manual)"]) == 0.5
    assert {(m["submission"], m["question"], m["entered in"]) for m in book.marks} >= {
        ("pair-a", "2. Why a bias?", "review"), ("pair-d", "2. Why a bias?", "review")}


def read_csv(path: Path) -> dict[str, dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


# ---------------------------------------------------------------- in a real browser

CHROMIUM = "/usr/bin/chromium"
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright; a skip where it is missing, a failure where
    scripts/test.sh installed it (AUTOGRADER_REQUIRE_BROWSER=1)."""
    required = os.environ.get("AUTOGRADER_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("AUTOGRADER_REQUIRE_BROWSER=1 but Playwright is not installed "
                        "(pip install playwright)")
        pytest.skip("Playwright is not installed (scripts/test.sh installs it)")
    if not Path(CHROMIUM).is_file():
        if required:
            pytest.fail(f"AUTOGRADER_REQUIRE_BROWSER=1 but {CHROMIUM} is missing "
                        "(apt-get install chromium)")
        pytest.skip(f"no {CHROMIUM} (scripts/test.sh installs Debian's chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def watch(page) -> dict:
    """Everything a successful attack would leave: dialogs, popups, requests elsewhere."""
    seen = {"dialogs": [], "popups": [], "requests": [], "errors": []}
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("popup", lambda p: seen["popups"].append(p.url))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen


def open_page(page, server) -> None:
    page.goto(server.url)
    page.wait_for_selector("body[data-ready]", timeout=15_000)


def wait_until(check, what: str, timeout: float = 10.0) -> None:
    """Poll from Python: the page's CSP forbids the eval that wait_for_function uses."""
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_saved(page, n: int) -> None:
    wait_until(lambda: page.locator(".answer .state.saved").count() >= n, f"{n} marks saved")


@pytest.mark.browser
def test_grading_three_pairs_with_the_keyboard(course_dir, browser):
    review = load(course_dir)
    course = load_course(course_dir / "course.toml")
    with ReviewServer(review) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        seen = watch(page)
        open_page(page, server)
        assert page.url.endswith("/#q=why_bias&i=0")  # the token left the address bar
        cards = page.locator("article.answer")
        assert cards.count() == 5
        assert page.locator("#questions a.current .count").inner_text() == "1/5 graded"
        # pair-a: Enter to mark it, 2, Enter to the next pair (pair-b): 1,5, Tab, a comment,
        # Ctrl+Enter to the next; pair-c is the stub (no mark needed): Ctrl+Enter in its field
        # jumps to the next ungraded, pair-d: 0.5.
        page.keyboard.press("Enter")
        page.keyboard.type("2")
        page.keyboard.press("Enter")
        page.keyboard.type("1,5")
        page.keyboard.press("Tab")
        page.keyboard.type("sees the shift, not why")
        page.keyboard.press("Control+Enter")
        page.keyboard.press("Control+Enter")
        page.keyboard.type("0.5")
        page.keyboard.press("Escape")
        wait_saved(page, 3)
        assert page.locator("#questions a.current .count").inner_text() == "4/5 graded"
        # An out-of-bounds mark is refused where it was typed, and nothing is stored.
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.keyboard.type("7")
        page.wait_for_selector(".answer.current .state.error", timeout=10_000)
        assert "outside 0 to 2" in page.locator(".answer.current .state").inner_text()
        page.keyboard.press("Backspace")
        page.keyboard.press("Escape")
        wait_until(lambda: page.locator(".answer .state.error").count() == 0, "the error cleared")

        page.reload()
        page.wait_for_selector("body[data-ready]")
        values = [cards.nth(i).locator("input.points").input_value() for i in range(5)]
        assert values == ["2", "1.5", "", "0.5", ""]
        assert cards.nth(1).locator("textarea").input_value() == "sees the shift, not why"
        assert page.locator("#questions a.current .count").inner_text() == "4/5 graded"
        # Math is typeset by the shipped KaTeX (nothing fetched from elsewhere).
        assert page.locator("#reference .katex").count() >= 3
        assert all(url.startswith(f"http://127.0.0.1:{server.port}/")
                   for url in seen["requests"]), seen["requests"]
        assert not seen["dialogs"] and not seen["errors"], seen

    marks = read_marks(course_dir / "results", HW, "pair-b")["why_bias"]
    assert (marks.points, marks.comment, marks.origin) == (1.5, "sees the shift, not why", "review")
    assert "pair-e" not in [p.stem for p in (course_dir / "results" / HW / "marks").glob("*.json")]
    book = build_gradebook(course=course, assignments=[HW], results=[course_dir / "results"],
                           out=course_dir / "grades.xlsx")
    rows = read_csv(book.csv)
    got = {sid: rows[sid][f"{HW} why_bias (manual)"] for sid in ("3001", "3003", "3004", "3007")}
    assert {k: float(v) for k, v in got.items()} == {"3001": 2, "3003": 1.5, "3004": 1.5,
                                                      "3007": 0.5}


@pytest.mark.browser
def test_an_attack_written_as_an_answer_does_nothing(course_dir, browser):
    review = load(course_dir)
    with ReviewServer(review) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        seen = watch(page)
        violations = []
        page.expose_function("reportViolation", lambda v: violations.append(v))
        page.add_init_script("document.addEventListener('securitypolicyviolation', "
                             "e => window.reportViolation(e.violatedDirective + ' ' + e.blockedURI))")
        open_page(page, server)
        for question in ("why_bias", "loop", "plot_task"):
            page.goto(f"http://127.0.0.1:{server.port}/#q={question}&i=1")
            page.reload()
            page.wait_for_selector("body[data-ready]")
            hostile = page.locator("article.answer").nth(1)
            hostile.scroll_into_view_if_needed()
            hostile.click()  # clicks land on the answer: nothing there may react
            page.keyboard.press("j")
            page.keyboard.press("k")
            time.sleep(0.3)
            found = page.evaluate("""() => {
                const answers = document.getElementById('answers');
                return {
                  pwned: window.__pwned === undefined ? null : String(window.__pwned),
                  scripts: answers.querySelectorAll('script, iframe, object, embed, svg, style, form, meta, base, link').length,
                  handlers: [...answers.querySelectorAll('*')].filter(n => [...n.attributes].some(a => a.name.startsWith('on'))).length,
                  jsLinks: [...answers.querySelectorAll('a[href]')].filter(a => !/^(https?|mailto):/.test(a.href)).length,
                  foreignImages: [...answers.querySelectorAll('img[src]')].filter(i => !i.src.startsWith(location.origin + '/img/')).length,
                  styled: answers.querySelectorAll('[style]:not(.katex *, .katex-error)').length,
                  idInjected: document.querySelectorAll('#answers #top, #answers #answers').length,
                };
            }""")
            assert found == {"pwned": None, "scripts": 0, "handlers": 0, "jsLinks": 0,
                             "foreignImages": 0, "styled": 0, "idInjected": 0}
        # Clicking the links that were written as javascript: goes nowhere.
        page.goto(f"http://127.0.0.1:{server.port}/#q=why_bias&i=1")
        page.reload()
        page.wait_for_selector("body[data-ready]")
        for link in page.locator("article.answer").nth(1).locator("a").all():
            link.click(no_wait_after=True)
        time.sleep(0.5)
        assert page.evaluate("window.__pwned === undefined")
        assert not seen["dialogs"], seen["dialogs"]
        assert not seen["popups"], seen["popups"]
        assert all(url.startswith(f"http://127.0.0.1:{server.port}/")
                   for url in seen["requests"]), seen["requests"]
        assert not violations, violations  # the sanitiser let nothing through for CSP to stop
