"""The one sandboxed renderer for prompts, first messages, voicemail messages and flow texts.

Templates are customer input that runs on every call, so they run in Jinja's immutable sandbox
with limits on source size, output size, render time and the size of values they can build.
An undefined variable renders empty and a broken template never fails a call: ``render`` raises
``TemplateError`` and ``render_safe`` degrades to the text with the broken parts dropped.

Time is enforced by rendering in a short-lived worker thread and, past the deadline, raising an
exception inside it (``PyThreadState_SetAsyncExc``), which stops any pure-Python loop. Single
C-level operations cannot be interrupted that way, so the ones that could build huge values in
one step (``*``, ``**``, ``+``, ``%``, padding filters and string methods, namespace growth) are
checked before they run.

Most templates are straight-line substitutions (``Hi {{ first_name || there }}``). Those cannot
loop, call or recurse, so their render time is bounded by the sizes already limited here; they
render inline, without the thread (a few microseconds instead of ~1 ms). Text with no tag at all
is returned as is. Anything else (any ``{% %}`` tag, call, operator or other filter) takes the
thread.
"""

from __future__ import annotations

import ctypes
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError

from callwright.template_sandbox import LimitExceeded, Limits, Sandbox

log = logging.getLogger(__name__)

MAX_SOURCE_BYTES = 64 * 1024
MAX_OUTPUT_CHARS = 256 * 1024
RENDER_TIMEOUT_S = 0.1
MAX_RANGE = 10_000
CACHE_SIZE = 512
_TEMPLATE_FILE = "<template>"


class TemplateError(Exception):
    """A template that cannot be compiled or rendered within the sandbox and its limits."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(f"{message} (line {lineno})" if lineno else message)
        self.lineno = lineno


class _RenderAborted(BaseException):
    """Raised inside the worker thread when the render deadline passes."""


# --- the ``{{ name || default }}`` form -------------------------------------------------------

_EXPR_TAG = re.compile(r"(\{\{-?)(.*?)(-?\}\})", re.DOTALL)


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` where it is outside a quoted string."""
    parts: list[str] = []
    quote: str | None = None
    start = i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _as_literal(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text
    return json.dumps(text, ensure_ascii=False)


def _rewrite_fallback(match: re.Match[str]) -> str:
    open_, body, close = match.groups()
    parts = _split_unquoted(body, "||")
    if len(parts) == 1:
        return match.group(0)
    expr = f"({parts[0].strip()})"
    for fallback in parts[1:]:
        expr += f" | default({_as_literal(fallback)}, true)"
    return f"{open_} {expr} {chr(10) * body.count(chr(10))}{close}"


def preprocess(source: str) -> str:
    """Turn ``{{ a || fallback }}`` into ``{{ (a) | default("fallback", true) }}``.

    An unquoted fallback is literal text (``{{ last_name||sir }}`` says "sir"); quoted ones keep
    their quotes. ``||`` outside ``{{ }}`` is left alone. Line numbers are preserved.
    """
    if "||" not in source:
        return source
    return _EXPR_TAG.sub(_rewrite_fallback, source)


# --- size guards ------------------------------------------------------------------------------

# --- the renderer -----------------------------------------------------------------------------

# Render modes, stored on the compiled template.
_MODE_ATTR = "_callwright_mode"
_PLAIN, _INLINE, _THREAD = "plain", "inline", "thread"

# Nodes and filters of a straight-line template: no loops, calls, operators or macros, so no
# unbounded work. Each filter here is O(size of its input), and inputs are size-checked.
_INLINE_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr, nodes.Getitem,
    nodes.Filter,
)
_INLINE_FILTERS = frozenset({"default", "d", "upper", "lower", "title", "capitalize", "trim"})


def _render_mode(source: str, ast: nodes.Template) -> str:
    if "{" not in source and "\r" not in source:
        return _PLAIN  # no tag at all and no newline for Jinja to normalize: the text is the output
    for node in ast.find_all(nodes.Node):
        if type(node) not in _INLINE_NODES:
            return _THREAD
        if isinstance(node, nodes.Filter) and node.name not in _INLINE_FILTERS:
            return _THREAD
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
            return _THREAD
    return _INLINE



def _template_lineno(tb: TracebackType | None) -> int | None:
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def _as_template_error(exc: BaseException) -> TemplateError:
    if isinstance(exc, TemplateError):
        return exc
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(f"template syntax error: {exc.message}", exc.lineno)
    lineno = _template_lineno(exc.__traceback__)
    if isinstance(exc, LimitExceeded):
        return TemplateError(f"template limit exceeded: {exc}", lineno)
    if isinstance(exc, SecurityError):
        return TemplateError(f"template blocked by the sandbox: {exc}", lineno)
    if isinstance(exc, RecursionError):
        return TemplateError("template recursion is too deep", lineno)
    return TemplateError(f"template failed: {type(exc).__name__}: {exc}", lineno)


class _Outcome:
    __slots__ = ("done", "error", "text")

    def __init__(self) -> None:
        self.text: str | None = None
        self.error: BaseException | None = None
        self.done = False


class TemplateRenderer:
    """Compiles (with an LRU cache) and renders templates under the sandbox and its limits."""

    def __init__(
        self,
        *,
        max_source_bytes: int = MAX_SOURCE_BYTES,
        max_output_chars: int = MAX_OUTPUT_CHARS,
        timeout_s: float = RENDER_TIMEOUT_S,
        max_range: int = MAX_RANGE,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.max_source_bytes = max_source_bytes
        self.max_output_chars = max_output_chars
        self.timeout_s = timeout_s
        self.cache_size = cache_size
        self.env = Sandbox(Limits(max_output_chars), max_range)
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, source: str) -> Any:
        """The compiled template for ``source``; compile errors are cached too."""
        with self._lock:
            cached = self._cache.get(source)
            if cached is not None:
                self._cache.move_to_end(source)
        if cached is None:
            cached = self._compile_uncached(source)
            with self._lock:
                self._cache[source] = cached
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        if isinstance(cached, TemplateError):
            raise cached
        return cached

    def _compile_uncached(self, source: str) -> Any:
        size = len(source.encode("utf-8")) if len(source) * 4 > self.max_source_bytes else len(source)
        if size > self.max_source_bytes:
            return TemplateError(f"template is {size} bytes, over the {self.max_source_bytes} limit")
        try:
            processed = preprocess(source)
            template = self.env.compile_template(processed)
            setattr(template, _MODE_ATTR, _render_mode(source, self.env.parse(processed)))
            return template
        except JinjaTemplateError as exc:
            return _as_template_error(exc)

    def render(self, source: str, variables: Mapping[str, Any]) -> str:
        """Render ``source`` with ``variables``; raises ``TemplateError`` on any failure."""
        template = self.compile(source)
        mode = getattr(template, _MODE_ATTR, _THREAD)
        if mode == _PLAIN:
            return source
        if mode == _INLINE:
            try:
                return self._generate(template, variables, None)
            except Exception as exc:
                raise _as_template_error(exc) from exc
        outcome = _Outcome()
        deadline = time.monotonic() + self.timeout_s
        worker = threading.Thread(
            target=self._render_into, args=(template, dict(variables), deadline, outcome), daemon=True
        )
        worker.start()
        worker.join(self.timeout_s)
        if not outcome.done and worker.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(worker.ident), ctypes.py_object(_RenderAborted)
            )
            worker.join(1.0)
            if worker.is_alive():
                log.error("template render thread did not stop after its deadline")
            raise TemplateError(f"template render took longer than {self.timeout_s * 1000:.0f} ms")
        if outcome.error is not None:
            raise _as_template_error(outcome.error)
        return outcome.text or ""

    def _render_into(self, template: Any, variables: dict[str, Any], deadline: float, out: _Outcome) -> None:
        try:
            try:
                out.text = self._generate(template, variables, deadline)
            except _RenderAborted:
                out.error = TemplateError(f"template render took longer than {self.timeout_s * 1000:.0f} ms")
            except Exception as exc:
                out.error = exc
            finally:
                out.done = True
        except _RenderAborted:  # the deadline fired just as the render finished
            out.done = True

    def _generate(self, template: Any, variables: Mapping[str, Any], deadline: float | None) -> str:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(variables):
            size += len(chunk)
            if size > self.max_output_chars:
                raise LimitExceeded(f"output is over the {self.max_output_chars} character limit")
            if deadline is not None and time.monotonic() > deadline:
                raise _RenderAborted
            parts.append(chunk)
        return "".join(parts)

    def render_safe(self, source: str, variables: Mapping[str, Any]) -> str:
        """Render, or on failure log a warning and fall back to a best-effort text.

        The fallback keeps the plain text, renders each ``{{ }}`` expression on its own and
        drops the ones that fail, and drops every ``{% %}``/``{# #}`` tag and unclosed tag:
        speaking a broken tag aloud is worse than leaving it out.
        """
        try:
            return self.render(source, variables)
        except TemplateError as exc:
            log.warning("template failed, using fallback text: %s", exc)
            return self._fallback(source, variables)

    def render_checked(self, source: str, variables: Mapping[str, Any]) -> tuple[str, str | None]:
        """Like ``render_safe``, but also return the error (``None`` when the render worked), so
        the caller can record a broken template on the conversation instead of hiding it."""
        try:
            return self.render(source, variables), None
        except TemplateError as exc:
            return self._fallback(source, variables), str(exc)

    def _fallback(self, source: str, variables: Mapping[str, Any]) -> str:
        source = source[: self.max_output_chars]
        pieces: list[str] = []
        for token in re.split(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", source, flags=re.DOTALL):
            if token.startswith("{{") and token.endswith("}}"):
                try:
                    pieces.append(self.render(token, variables))
                except TemplateError:
                    continue
            elif not (token.startswith(("{%", "{#")) and token.endswith(("%}", "#}"))):
                # an unclosed tag: drop it up to a lone closing brace or the end of the line
                pieces.append(re.sub(r"\{[{%#][^\n]*?(?:\}|$)", "", token, flags=re.MULTILINE))
        return re.sub(r"[ \t]{2,}", " ", "".join(pieces)).strip()

    def validate(self, source: str) -> str | None:
        """The error message for a template that cannot compile, or ``None`` when it is fine."""
        try:
            self.compile(source)
        except TemplateError as exc:
            return str(exc)
        return None

    def referenced_variables(self, source: str) -> set[str]:
        """Top-level variable names the template reads (globals such as ``range`` excluded)."""
        self.compile(source)
        ast = self.env.parse(preprocess(source))
        return set(meta.find_undeclared_variables(ast)) - set(self.env.globals)


default_renderer = TemplateRenderer()


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render with the default limits; raises ``TemplateError``."""
    return default_renderer.render(source, variables)


def render_safe(source: str, variables: Mapping[str, Any]) -> str:
    """Render with the default limits, never raising (see ``TemplateRenderer.render_safe``)."""
    return default_renderer.render_safe(source, variables)


def render_checked(source: str, variables: Mapping[str, Any]) -> tuple[str, str | None]:
    """Render with the default limits, never raising: the text and the error, if any."""
    return default_renderer.render_checked(source, variables)


def validate_template(source: str) -> str | None:
    """Error message for a broken template (for a 422 at save time), else ``None``."""
    return default_renderer.validate(source)


def referenced_variables(source: str) -> set[str]:
    """Top-level variables a template reads; raises ``TemplateError`` if it does not compile."""
    return default_renderer.referenced_variables(source)
