"""The Jinja sandbox the renderer runs templates in, and the limits it enforces on every value
a template builds (sizes of strings, containers and integers; padding; namespaces)."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import ChainableUndefined, Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

_MAX_INT_BITS = 4096


class LimitExceeded(SecurityError):
    """A value or output the template tried to build is over a limit."""


class LenientUndefined(ChainableUndefined):
    """Undefined that renders empty and survives any use, except an unsafe-attribute access."""

    __slots__ = ()

    def _raise_if_unsafe(self) -> None:
        if issubclass(self._undefined_exception, SecurityError):
            raise self._undefined_exception(self._undefined_message)

    def _lenient(self, *args: Any, **kwargs: Any) -> Any:
        self._raise_if_unsafe()
        return LenientUndefined()

    def __getattr__(self, name: str) -> Any:
        self._raise_if_unsafe()
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return self

    def __str__(self) -> str:
        self._raise_if_unsafe()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._raise_if_unsafe()
        yield from ()

    def __int__(self) -> int:  # type: ignore[override]
        return 0

    def __float__(self) -> float:  # type: ignore[override]
        return 0.0

    __add__ = __radd__ = __sub__ = __rsub__ = _lenient
    __mul__ = __rmul__ = __div__ = __rdiv__ = _lenient
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _lenient
    __mod__ = __rmod__ = __pos__ = __neg__ = _lenient
    __call__ = __getitem__ = _lenient
    __lt__ = __le__ = __gt__ = __ge__ = _lenient
    __pow__ = __rpow__ = _lenient


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?[a-zA-Z%]")
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
_PADDING_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate"})
_STRINGIFYING_FILTERS = frozenset({"string", "pprint", "tojson", "e", "escape", "forceescape", "urlencode"})


class Limits:
    """Pre-checks for the operations that could build a huge value in one C-level step."""

    def __init__(self, max_output: int) -> None:
        self.max_output = max_output

    def check_value(self, value: Any) -> Any:
        if isinstance(value, _SIZED) and len(value) > self.max_output:
            raise LimitExceeded(f"value of {len(value)} items is over the {self.max_output} limit")
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            raise LimitExceeded("integer is too large")
        return value

    def check_width(self, width: Any) -> None:
        if isinstance(width, int) and width > self.max_output:
            raise LimitExceeded(f"width {width} is over the {self.max_output} limit")

    def check_total(self, total: int, what: str) -> None:
        if total > self.max_output:
            raise LimitExceeded(f"{what} result is over the {self.max_output} character limit")

    def size(self, value: Any) -> int:
        """Rough length of ``str(value)``, walking nested containers; raises once over the limit."""
        stack, total = [value], 0
        while stack:
            item = stack.pop()
            if isinstance(item, (str, bytes)):
                total += len(item)
            elif isinstance(item, Mapping):
                total += 2 + 4 * len(item)
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, (list, tuple, set, frozenset)):
                total += 2 + 2 * len(item)
                stack.extend(item)
            elif isinstance(item, Namespace):
                stack.append(item._Namespace__attrs)  # type: ignore[attr-defined]
            elif isinstance(item, int):
                total += 1 + item.bit_length() // 3
            else:
                total += 32
            self.check_total(total, "text")
        return total

    def text(self, value: Any) -> str:
        """``str(value)`` once its size is known to be within the limit."""
        if isinstance(value, str):
            return value
        self.size(value)
        return str(value)

    def check_percent_format(self, fmt: str, args: Any) -> None:
        specs = 0
        for m in _PERCENT_SPEC.finditer(fmt):
            specs += 1
            for group in m.groups():
                if group and group.isdigit():
                    self.check_width(int(group))
        values = args if isinstance(args, tuple) else (args,)
        if "*" in fmt:
            for v in values:
                self.check_width(v)
        self.check_total(len(fmt) + specs * sum(self.size(v) for v in values), "format")

    def check_brace_format(self, fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        try:
            fields = [f for f in string.Formatter().parse(fmt) if f[1] is not None]
        except ValueError:
            return
        for _, _, spec, _ in fields:
            for number in re.findall(r"\d+", spec or ""):
                self.check_width(int(number))
        values = (*args, *kwargs.values())
        self.check_total(len(fmt) + len(fields) * sum(self.size(v) for v in values), "format")

    def check_join(self, sep: Any, items: Any) -> None:
        if isinstance(items, (list, tuple, set, frozenset, Mapping, str)):
            self.check_total(len(str(sep)) * len(items) + self.size(items), "join")

    def check_replace(self, text: Any, old: Any, new: Any) -> None:
        text, old, new = self.text(text), self.text(old), self.text(new)
        growth = (text.count(old) if old else len(text) + 1) * max(len(new) - len(old), 0)
        self.check_total(len(text) + growth, "replace")

    def binop(self, op: str, left: Any, right: Any) -> None:
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, _SIZED) and isinstance(n, int):
                    self.check_total(len(seq) * max(n, 0), "repetition")
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                    raise LimitExceeded("integer is too large")
        elif op == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
                if left.bit_length() * right > _MAX_INT_BITS:
                    raise LimitExceeded("power is too large")
        elif op == "+":
            if isinstance(left, _SIZED) and isinstance(right, _SIZED):
                self.check_total(len(left) + len(right), "concatenation")
        elif op == "%" and isinstance(left, str):
            self.check_percent_format(left, right)

    def check_filter(self, name: str, args: list[Any], kwargs: Mapping[str, Any]) -> None:
        for value in (*args, *kwargs.values()):
            self.check_value(value)
        if name in _PADDING_FILTERS:
            for value in (*args[1:], *kwargs.values()):
                self.check_width(value)
        elif name in _STRINGIFYING_FILTERS and args:
            self.size(args[0])
        elif name == "format" and args and isinstance(args[0], str):
            self.check_percent_format(args[0], (*args[1:], *kwargs.values()))
        elif name == "replace" and len(args) >= 3:
            self.check_replace(*args[:3])
        elif name == "join" and args:
            self.check_join(args[1] if len(args) > 1 else kwargs.get("d", ""), args[0])

    def check_method(self, owner: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        for value in (*args, *kwargs.values()):
            self.check_width(value)
        if name in ("format", "format_map"):
            mapping = args[0] if name == "format_map" and args else kwargs
            self.check_brace_format(owner, args if name == "format" else (), mapping)
        elif name == "replace" and len(args) >= 2:
            self.check_replace(owner, args[0], args[1])
        elif name == "join" and args:
            self.check_join(owner, args[0])

    def guard_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a filter so its arguments and result are size-checked (keeps pass_* markers)."""
        skip = 1 if hasattr(func, "jinja_pass_arg") else 0

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.check_filter(name, list(args[skip:]), kwargs)
            return self.check_value(func(*args, **kwargs))

        return guarded


def bounded_namespace(limits: Limits) -> type[Namespace]:
    """``namespace()`` whose attributes cannot grow past the output limit (no doubling loops)."""

    class namespace(Namespace):
        def __setitem__(self, name: str, value: Any) -> None:
            limits.check_value(value)
            super().__setitem__(name, value)

    return namespace


class Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, limits: Limits, max_range: int) -> None:
        def finalize(value: Any) -> str:
            # None renders empty: a missing contact field must not be spoken as "None".
            return "" if value is None else limits.text(value)

        super().__init__(
            autoescape=False,
            undefined=LenientUndefined,
            finalize=finalize,
            keep_trailing_newline=True,
            cache_size=0,
        )
        self.limits = limits

        def bounded_range(*args: int) -> range:
            rng = range(*args)
            if len(rng) > max_range:
                raise LimitExceeded(f"range of {len(rng)} items is over the {max_range} limit")
            return rng

        self.globals.pop("lipsum", None)
        self.globals["range"] = bounded_range
        self.globals["namespace"] = bounded_namespace(limits)
        self.filters = {name: limits.guard_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        self.limits.binop(operator, left, right)
        return self.limits.check_value(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        limits = __self.limits
        for value in (*args, *kwargs.values()):
            limits.check_value(value)
        target = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):
            limits.check_method(owner, getattr(target, "__name__", ""), args, kwargs)
        return limits.check_value(super().call(__context, __obj, *args, **kwargs))

    def compile_template(self, source: str) -> Any:
        """Compile, then make ``~`` concatenation size-checked like ``{{ }}`` output."""
        template = self.from_string(source)
        limits = self.limits

        def str_join(seq: Any) -> str:
            pieces = [limits.text(x) for x in seq]
            limits.check_total(sum(map(len, pieces)), "concatenation")
            return "".join(pieces)

        template.root_render_func.__globals__["str_join"] = str_join
        return template
