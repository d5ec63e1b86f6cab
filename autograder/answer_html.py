"""Answers as safe HTML for the review page: markdown and LaTeX as Jupyter shows them, code
highlighted, outputs as text or images; nothing a student wrote can run in the grader's browser.

Markdown is rendered here, on the server, by markdown-it (CommonMark with GitHub's tables and
strikethrough, as Jupyter's renderer), with `$…$`, `$$…$$` and `\\begin{env}…\\end{env}` kept
apart as math the way Jupyter keeps them from its markdown parser; the page typesets them with
the KaTeX it ships (no network), with KaTeX's `trust` off. Raw HTML in an answer is allowed only
through an allowlist (ammonia, via nh3): no script, style, event handler, form, frame, SVG or
`javascript:` URL survives, and images are limited to the cell's own attachments. The page's
Content-Security-Policy would stop a script that got through anyway.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

TEXT_CHARS = 100_000  # of one answer's text: beyond, it is cut with a note
OUTPUT_CHARS = 4_000  # of one output's text
IMAGE_BYTES = 2 * 1024 * 1024  # of one image (an attachment or an output)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

# What students may write as HTML in markdown: text structure only, as Jupyter's sanitizer
# allows, without style, id or class attributes (an answer must not restyle the page).
TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
    "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul", "var",
}
ATTRIBUTES = {
    "a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align"},
    "ol": {"start"}, "abbr": {"title"},
}
MATH_CLASSES = {"math", "inline", "block", "amsmath"}  # what the math plugins write
URL_SCHEMES = {"http", "https", "mailto", "data", "attachment"}

# (mime type, bytes) → the URL the page loads it from; None: left out (past the page's budget)
ImageSink = Callable[[str, bytes], str | None]


ENVIRONMENT = re.compile(r"\\begin\{([A-Za-z]+\*?)\}")


def _environment(state, silent: bool) -> bool:
    """`\\begin{align}…\\end{align}` inside a paragraph is math, as MathJax takes it in Jupyter
    (markdown must not read its `\\\\` and `&` first)."""
    found = ENVIRONMENT.match(state.src, state.pos)
    if not found:
        return False
    end_tag = f"\\end{{{found.group(1)}}}"
    end = state.src.find(end_tag, found.end())
    if end < 0:
        return False
    if not silent:
        token = state.push("math_inline_double", "math", 0)
        token.content = state.src[state.pos:end + len(end_tag)]
    state.pos = end + len(end_tag)
    return True


def _markdown() -> MarkdownIt:
    # Jupyter's marked: GitHub-flavoured tables and strikethrough, raw HTML (sanitised below).
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # MathJax in Jupyter takes `$5 and $6` as math too: the same rules, so a TA sees the
    # answer as the pair did. The plugins escape the TeX; the page typesets `.math` elements.
    dollarmath_plugin(md, allow_space=True, allow_digits=True, double_inline=True,
                      allow_labels=False)
    amsmath_plugin(md)
    md.inline.ruler.before("escape", "math_environment", _environment)
    # Display math inside a paragraph stays a span: a div would split the paragraph in two.
    md.add_render_rule("math_inline_double", lambda self, tokens, idx, options, env: (
        f'<span class="math block">{html.escape(tokens[idx].content, quote=False)}</span>'))
    return md


_MD = _markdown()


def _data_url(value: str) -> tuple[str, bytes] | None:
    """(mime, bytes) of a base64 image data URL of an allowed type and size, else None."""
    head, _, data = value.partition(",")
    mime = head[len("data:"):].split(";")[0].strip().lower()
    if mime not in IMAGE_TYPES or ";base64" not in head.lower():
        return None
    return _image(mime, data)


def _image(mime: str, data: str | list) -> tuple[str, bytes] | None:
    if isinstance(data, list):  # nbformat may keep base64 as a list of lines
        data = "".join(str(x) for x in data)
    if not isinstance(data, str) or len(data) > IMAGE_BYTES * 4 // 3 + 16:
        return None
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    return (mime, raw) if raw and len(raw) <= IMAGE_BYTES else None


def sanitise(fragment: str, *, attachments: dict | None = None,
             images: ImageSink | None = None) -> str:
    """HTML from markdown, cut down to the allowlist; an image loads only from the cell's own
    attachments (handed to `images`), never from a URL."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            found = None
            if value.startswith("attachment:") and isinstance(attachments, dict):
                bundle = attachments.get(value[len("attachment:"):])
                if isinstance(bundle, dict):
                    found = next((_image(m, bundle[m]) for m in IMAGE_TYPES if m in bundle), None)
            elif value.lower().startswith("data:"):
                found = _data_url(value)
            return images(*found) if found and images else None
        if tag == "a" and attribute == "href":
            scheme = value.split(":", 1)[0].lower() if ":" in value else ""
            return value if scheme in ("http", "https", "mailto") else None
        return value

    return nh3.clean(fragment, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     allowed_classes={"span": MATH_CLASSES, "div": MATH_CLASSES},
                     attribute_filter=keep, link_rel="noopener noreferrer nofollow",
                     set_tag_attribute_values={"a": {"target": "_blank"}},
                     strip_comments=True)


def _cut(text: str, limit: int) -> tuple[str, str]:
    if len(text) <= limit:
        return text, ""
    return text[:limit], f"[… {len(text) - limit:,} more characters not shown]"


def markdown_html(text: str, *, attachments: dict | None = None,
                  images: ImageSink | None = None) -> str:
    """A markdown cell as Jupyter shows it, made safe."""
    text, note = _cut(text if isinstance(text, str) else "", TEXT_CHARS)
    out = sanitise(_MD.render(text), attachments=attachments, images=images)
    return out + (f'<p class="cut">{html.escape(note)}</p>' if note else "")


_FORMATTER = HtmlFormatter(cssclass="highlight", nowrap=False)


def code_html(source: str) -> str:
    """Python, highlighted (pygments escapes every character it emits)."""
    source, note = _cut(source if isinstance(source, str) else "", TEXT_CHARS)
    out = highlight(source, PythonLexer(), _FORMATTER) if source.strip() else ""
    return out + (f'<p class="cut">{html.escape(note)}</p>' if note else "")


def pygments_css() -> str:
    return _FORMATTER.get_style_defs(".highlight")


def _text_of(value) -> str:
    return "".join(str(x) for x in value) if isinstance(value, list) else str(value or "")


def outputs_html(outputs, *, images: ImageSink | None = None) -> str:
    """A code cell's saved outputs: text escaped, PNG/JPEG/GIF/WebP images; HTML, JavaScript and
    SVG outputs are never rendered (their text/plain form is shown instead)."""
    parts = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream":
            text = _text_of(output.get("text"))
        elif kind == "error":
            text = f"{_text_of(output.get('ename'))}: {_text_of(output.get('evalue'))}"
        elif kind in ("execute_result", "display_data") and isinstance(output.get("data"), dict):
            data = output["data"]
            mime = next((m for m in IMAGE_TYPES if m in data), None)
            found = _image(mime, data[mime]) if mime else None
            url = images(*found) if found and images else None
            if url is not None:
                parts.append(f'<img class="output" alt="output" loading="lazy" '
                             f'src="{html.escape(url)}">')
                continue
            text = _text_of(data.get("text/plain"))
        else:
            continue
        text, note = _cut(text, OUTPUT_CHARS)
        if text.strip():
            parts.append(f'<pre class="output">{html.escape(text + note)}</pre>')
    return "".join(parts)
