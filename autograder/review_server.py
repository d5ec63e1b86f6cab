"""The review page's web server: bound to 127.0.0.1, a random token in its address (as Jupyter
does), a strict Content-Security-Policy on every response; a mark is stored as the TA types it.

Who may use it: whoever holds the token. The page's address carries it once; the server then
sets an HttpOnly, SameSite=Strict cookie and drops it from the address bar. The page, its assets
and images accept the cookie; the JSON API wants the token in a header, which another site's page
cannot send (no CORS here), so a page elsewhere in the TA's browser can neither read marks nor
store one. The Host header must name this machine (no DNS rebinding). Nothing else is served.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import threading
from dataclasses import asdict
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from . import answer_html
from .errors import ConfigError, MarkError
from .marks import write_mark
from .review import Review, is_graded, progress

TEMPLATES = Path(__file__).parent / "templates"
HOST = "127.0.0.1"
BODY_BYTES = 64 * 1024  # one mark and its comment
# Nothing inline, nothing from elsewhere: an answer that slipped a script or a handler past the
# sanitiser still cannot run it, nor load anything, nor send anything anywhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".woff2": "font/woff2", ".html": "text/html; charset=utf-8"}


def _assets() -> dict[str, Path]:
    """The files the page may load, by their path under /static/."""
    found = {name: TEMPLATES / name for name in ("review.js", "review.css")}
    katex = TEMPLATES / "katex"
    for path in [katex / "katex.min.js", katex / "katex.min.css",
                 *sorted((katex / "fonts").glob("*.woff2"))]:
        found[path.relative_to(TEMPLATES).as_posix()] = path
    return found


class ReviewServer:
    """Serves one review; `start()` in a thread (tests), `serve()` in the foreground (the CLI)."""

    def __init__(self, review: Review, *, port: int = 0, token: str | None = None) -> None:
        self.review = review
        self.token = token or secrets.token_urlsafe(32)
        self.assets = _assets()
        self.pygments = answer_html.pygments_css().encode()
        self.page = (TEMPLATES / "review.html").read_text(encoding="utf-8")
        self.keys = {a.key: (q, a) for q in review.questions
                     for a in review.answers.get(q.grade_id, [])}
        self.lock = threading.Lock()
        try:
            self.httpd = ThreadingHTTPServer((HOST, port), _handler(self))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {HOST}:{port}: {exc.strerror}",
                              hint="pick another --port, or 0 for any free one") from None
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.cookie = f"autograder-review-{self.port}"
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.token}"

    def serve(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def start(self) -> ReviewServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ what the API answers

    def questions(self) -> dict:
        marks = self.review.marks()
        done = progress(self.review, marks)
        return {"assignment": self.review.assignment, "blind": self.review.blind,
                "questions": [{"id": q.grade_id, "title": q.title, "kind": q.kind,
                               "max_points": q.max_points, "graded": done[q.grade_id][0],
                               "total": done[q.grade_id][1]} for q in self.review.questions]}

    def question(self, grade_id: str) -> dict | None:
        question = next((q for q in self.review.questions if q.grade_id == grade_id), None)
        if question is None:
            return None
        marks = self.review.marks()
        answers = []
        for a in self.review.answers.get(grade_id, []):
            mark = marks.get(a.submission_id, {}).get(grade_id)
            answers.append({
                "key": a.key, "label": a.label, "status": a.status, "note": a.note,
                "html": a.html, "max_points": a.max_points,
                "points": None if mark is None else mark.points,
                "comment": "" if mark is None else mark.comment,
                "origin": "" if mark is None else mark.origin, "at": "" if mark is None else mark.at,
                "graded": is_graded(a, mark)})
        return {"question": {k: v for k, v in asdict(question).items()}, "answers": answers}

    def store(self, key: str, body: dict) -> dict:
        """Store one mark; MarkError (shown beside the field) for anything out of bounds."""
        if key not in self.keys:
            raise KeyError(key)
        question, answer = self.keys[key]
        comment = body.get("comment", "")
        if not isinstance(comment, str):
            raise MarkError("a comment is text")
        with self.lock:
            mark = write_mark(self.review.results[0], self.review.assignment,
                              answer.submission_id, question=question.grade_id,
                              points=body.get("points"), max_points=answer.max_points,
                              comment=comment)
        graded, total = progress(self.review, self.review.marks())[question.grade_id]
        return {"points": mark.points, "comment": mark.comment, "origin": mark.origin,
                "at": mark.at, "graded": is_graded(answer, mark),
                "progress": {"graded": graded, "total": total}}


def _handler(server: ReviewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "autograder-review"
        sys_version = ""

        def log_message(self, format: str, *args) -> None:
            pass  # request lines carry the token; nothing here is worth a line per request

        # -------------------------------------------------------- checks

        def _host_ok(self) -> bool:
            return _local(self.headers.get("Host", ""))

        def _same(self, given: str | None) -> bool:
            return given is not None and given != "" \
                and hmac.compare_digest(given.encode(), server.token.encode())

        def _header_token(self) -> str | None:
            value = self.headers.get("Authorization", "")
            return value[len("token "):] if value.startswith("token ") else None

        def _cookie_token(self) -> str | None:
            try:
                jar = SimpleCookie(self.headers.get("Cookie", ""))
            except CookieError:
                return None
            morsel = jar.get(server.cookie)
            return morsel.value if morsel else None

        # -------------------------------------------------------- replies

        def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Cache-Control", "no-store")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data: dict) -> None:
            self._send(status, json.dumps(data, ensure_ascii=False).encode(),
                       "application/json; charset=utf-8")

        def _refuse(self, status: int = HTTPStatus.FORBIDDEN, why: str = "") -> None:
            text = why or ("Open the address that `autograder review` printed: it holds the "
                           "token this page needs.")
            self._send(status, text.encode(), "text/plain; charset=utf-8")

        # -------------------------------------------------------- routes

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not self._host_ok():
                return self._refuse(HTTPStatus.FORBIDDEN, "unknown host")
            url = urlsplit(self.path)
            path = url.path
            if path == "/favicon.ico":  # asked by every browser; there is none
                return self._send(HTTPStatus.NO_CONTENT, b"", "text/plain")
            if path == "/":
                given = parse_qs(url.query).get("token", [None])[0]
                if self._same(given):  # keep it in a cookie, out of the address bar
                    cookie = (f"{server.cookie}={server.token}; HttpOnly; SameSite=Strict; "
                              "Path=/")
                    return self._send(HTTPStatus.SEE_OTHER, b"", "text/plain",
                                      {"Location": "/", "Set-Cookie": cookie})
                if not (self._same(self._cookie_token()) or self._same(self._header_token())):
                    return self._refuse()
                page = server.page.replace("{{token}}", server.token).replace(
                    "{{assignment}}", html.escape(server.review.assignment))
                return self._send(HTTPStatus.OK, page.encode(), TYPES[".html"])
            if path.startswith(("/static/", "/img/")):
                if not (self._same(self._cookie_token()) or self._same(self._header_token())):
                    return self._refuse()
                return self._file(path)
            if path.startswith("/api/"):
                if not self._same(self._header_token()):
                    return self._refuse()
                try:
                    if path == "/api/questions":
                        return self._json(HTTPStatus.OK, server.questions())
                    if path.startswith("/api/questions/"):
                        data = server.question(unquote(path[len("/api/questions/"):]))
                        if data is not None:
                            return self._json(HTTPStatus.OK, data)
                except ConfigError as exc:  # a marks file that cannot be read: say which
                    return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})
            return self._refuse(HTTPStatus.NOT_FOUND, "not found")

        do_HEAD = do_GET

        def _file(self, path: str) -> None:
            if path == "/static/pygments.css":
                return self._send(HTTPStatus.OK, server.pygments, TYPES[".css"])
            if path.startswith("/img/"):
                image = server.review.images.get(path[len("/img/"):])
                if image is None:
                    return self._refuse(HTTPStatus.NOT_FOUND, "not found")
                return self._send(HTTPStatus.OK, image[1], image[0])
            asset = server.assets.get(path[len("/static/"):])
            if asset is None:
                return self._refuse(HTTPStatus.NOT_FOUND, "not found")
            return self._send(HTTPStatus.OK, asset.read_bytes(), TYPES[asset.suffix])

        def do_PUT(self) -> None:  # noqa: N802
            if not self._host_ok():
                return self._refuse(HTTPStatus.FORBIDDEN, "unknown host")
            if not self._same(self._header_token()):
                return self._refuse()
            origin = self.headers.get("Origin")
            if origin and not (origin.startswith("http://") and _local(origin[len("http://"):])):
                return self._refuse(HTTPStatus.FORBIDDEN, "another site's page")
            path = urlsplit(self.path).path
            if not path.startswith("/api/marks/"):
                return self._refuse(HTTPStatus.NOT_FOUND, "not found")
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                return self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "JSON expected"})
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 < length <= BODY_BYTES:
                return self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                  {"error": "a mark and a comment of at most 64 kB"})
            try:
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, dict):
                    raise ValueError("an object expected")
                reply = server.store(path[len("/api/marks/"):], body)
            except KeyError:
                return self._json(HTTPStatus.NOT_FOUND, {"error": "no such answer"})
            except MarkError as exc:
                return self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            except ValueError as exc:
                return self._json(HTTPStatus.BAD_REQUEST, {"error": f"not a mark: {exc}"})
            except OSError as exc:
                return self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                                  {"error": f"not saved: {exc.strerror or exc}"})
            except ConfigError as exc:  # a marks file that cannot be read: never overwritten
                return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})
            return self._json(HTTPStatus.OK, reply)

    return Handler


LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _local(host: str) -> bool:
    """A Host (or an Origin's host) naming this machine, on any port: an SSH tunnel
    (`ssh -L 8888:127.0.0.1:PORT`) keeps working; a domain that resolves here (DNS rebinding)
    does not."""
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name or (port and not port.isdigit()):
        name = host
    return name.lower() in LOCAL_NAMES
