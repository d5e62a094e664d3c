"""Telegram `parse_mode` handling for the fake: render text and entities, or reject it.

The real server refuses malformed markup with 400 "Bad Request: can't parse entities: ...";
bots that build HTML or MarkdownV2 by hand hit that in production, so the fake checks the
same things (supported tags, balanced tags, MarkdownV2 reserved characters) and returns
the rendered text with entities (offsets/lengths in UTF-16 code units, as Telegram does).
"""

from __future__ import annotations

import html
import re
from typing import Any

HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
MDV2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)?([^>]*)>", re.S)
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


class MarkupError(ValueError):
    """The description Telegram would send after "Bad Request: can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def render(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """(plain text, entities) for a message; raises MarkupError like the real parser."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown(text, v2=True)
    if mode == "markdown":
        return _render_markdown(text, v2=False)
    if mode:
        raise MarkupError(f"Unsupported parse_mode {parse_mode}")
    return text, []


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _render_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, Any]]] = []
    pos = 0
    plain = ""

    def emit(chunk: str) -> None:
        nonlocal plain
        if "<" in chunk:
            i = chunk.index("<")
            raise MarkupError(
                f'Unsupported start tag "" at byte offset {_byte_offset(text, pos + i)}'
            )
        decoded = html.unescape(chunk)
        out.append(decoded)
        plain += decoded

    for m in _TAG.finditer(text):
        emit(text[pos : m.start()])
        pos = m.end()
        closing, name, attrs = m.group(1), (m.group(2) or "").lower(), m.group(3)
        offset = _byte_offset(text, m.start())
        if name not in HTML_TAGS:
            kind = "end" if closing else "start"
            raise MarkupError(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
        if closing:
            if not stack or stack[-1][0] != name:
                expected = f'"</{stack[-1][0]}>"' if stack else "nothing"
                found_tag = f'"</{name}>"'
                where = f"Unmatched end tag at byte offset {offset}"
                raise MarkupError(f"{where}, expected {expected}, found {found_tag}")
            tag, start, extra = stack.pop()
            length = utf16_len(plain) - start
            if length > 0:
                entities.append(
                    {"type": HTML_TAGS[tag], "offset": start, "length": length, **extra}
                )
            continue
        extra: dict[str, Any] = {}
        found = {a[0].lower(): a[1] or a[2] or a[3] for a in _ATTR.findall(attrs)}
        if name == "a":
            if "href" not in found:
                raise MarkupError(
                    f'Can\'t find attribute "href" of tag "a" at byte offset {offset}'
                )
            extra["url"] = html.unescape(found["href"])
        if name == "span" and found.get("class") != "tg-spoiler":
            raise MarkupError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        if name == "code" and stack and stack[-1][0] == "pre" and "class" in found:
            extra["language"] = found["class"].removeprefix("language-")
        stack.append((name, utf16_len(plain), extra))
    emit(text[pos:])
    if stack:
        raise MarkupError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _render_markdown(text: str, *, v2: bool) -> tuple[str, list[dict[str, Any]]]:
    """MarkdownV2 (strict escaping) or legacy Markdown (`*bold*`, `_italic_`, code, links)."""
    plain: list[str] = []
    entities: list[dict[str, Any]] = []
    open_: dict[str, tuple[int, int]] = {}  # marker -> (utf16 offset, char index)
    link: tuple[int, int] | None = None
    size = 0
    i, n = 0, len(text)
    name = "Markdown" if not v2 else "MarkdownV2"

    def add(chunk: str) -> None:
        nonlocal size
        plain.append(chunk)
        size += utf16_len(chunk)

    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and (v2 or text[i + 1] in "_*`["):
            add(text[i + 1])
            i += 2
            continue
        if ch == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                kind = "Pre" if fence == "```" else "Code"
                raise MarkupError(
                    f"Can't find end of {kind} entity at byte offset {_byte_offset(text, i)}"
                )
            body = text[i + len(fence) : end]
            lang = ""
            if fence == "```" and "\n" in body:
                lang, body = body.split("\n", 1)
            if v2:
                body = re.sub(r"\\([`\\])", r"\1", body)
            start = size
            add(body)
            entity: dict[str, Any] = {"type": "pre" if fence == "```" else "code"}
            entity.update(offset=start, length=size - start)
            if lang.strip():
                entity["language"] = lang.strip()
            entities.append(entity)
            i = end + len(fence)
            continue
        if ch == "[" and link is None:
            link = (size, i)
            i += 1
            continue
        if ch == "]" and link is not None:
            if not text.startswith("(", i + 1):
                raise MarkupError(
                    "Character ']' is reserved and must be escaped with the preceding '\\'"
                )
            close = text.find(")", i + 2)
            while v2 and close > 0 and text[close - 1] == "\\":
                close = text.find(")", close + 1)
            if close < 0:
                raise MarkupError(f"Can't find end of a URL at byte offset {_byte_offset(text, i)}")
            url = re.sub(r"\\(.)", r"\1", text[i + 2 : close])
            entities.append(
                {"type": "text_link", "offset": link[0], "length": size - link[0], "url": url}
            )
            link = None
            i = close + 1
            continue
        marker = (
            "__"
            if v2 and text.startswith("__", i)
            else ("||" if v2 and text.startswith("||", i) else ch)
        )
        if marker in MDV2_MARKERS or marker == "||" or (not v2 and ch in "*_"):
            if marker in open_:
                start, _ = open_.pop(marker)
                kind = "spoiler" if marker == "||" else MDV2_MARKERS[marker]
                if size > start:
                    entities.append({"type": kind, "offset": start, "length": size - start})
            else:
                open_[marker] = (size, i)
            i += len(marker)
            continue
        if v2 and ch == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # blockquote line marker
            continue
        if v2 and ch in MDV2_RESERVED:
            raise MarkupError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        add(ch)
        i += 1
    if open_:
        marker, (_, idx) = min(open_.items(), key=lambda kv: kv[1][1])
        kind = "Spoiler" if marker == "||" else MDV2_MARKERS.get(marker, "bold").capitalize()
        if not v2:
            raise MarkupError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, idx)}"
            )
        raise MarkupError(
            f"Can't find end of {kind} entity at byte offset {_byte_offset(text, idx)}"
        )
    if link is not None:
        raise MarkupError(
            f"Can't find end of a URL at byte offset {_byte_offset(text, link[1])} ({name})"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities
