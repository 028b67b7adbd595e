"""YAML for kpt's ResourceList in the standard library alone: a reader and a writer.

Importing PyYAML costs an exec function more time than the rest of its work, so the functions read
and write the ResourceList with this module. It covers the YAML that kpt writes (block mappings and
sequences, one-line plain and quoted scalars, ``{}`` and ``[]``) and gives the same values as
PyYAML's safe loader (YAML 1.1 implicit types). Its writer picks the style PyYAML's safe dumper
(``allow_unicode=False``) gives each scalar, so kpt writes the same files as with PyYAML's output.
Anything else raises :class:`Unsupported`, and the caller uses PyYAML for that document.

The reader also reports comments: the head comment of each sequence entry (``- # text``), which the
writer can put back, and the paths of all other comments.
"""

from __future__ import annotations

_BOOLS = {  # yes, Yes, YES, no, ...: the YAML 1.1 booleans PyYAML knows
    form: word in ("yes", "true", "on")
    for word in ("yes", "no", "true", "false", "on", "off")
    for form in (word, word.title(), word.upper())
}
_INDICATORS = "#,[]{}&*!|>'\"%@`"
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c", "r": "\r",
    "e": "\x1b", " ": " ", '"': '"', "\\": "\\", "/": "/", "N": "\x85", "_": "\xa0", "L": "\u2028",
    "P": "\u2029",
}  # fmt: skip
_CODES = {"x": 2, "u": 4, "U": 8}
_HEX = frozenset("0123456789abcdefABCDEF")
_TO_ESCAPE = {code: f"\\x{code:02X}" for code in (*range(0x20), 0x7F)} | {0x22: '\\"', 0x5C: "\\\\"}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_NUMBER = frozenset("-+0123456789.")
_NUMERIC = frozenset("0123456789_:.+-xXabcdefABCDEFinINtTZ \t")  # all that the resolvers below accept
# PyYAML's implicit resolvers (yaml/resolver.py) for the scalars the quick checks of _implicit leave.
_RESOLVERS = (
    r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN)""",
    r"""[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+""",
    r"""[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?""",
)
_COMPILED: list = []


class Unsupported(ValueError):
    """YAML this module does not read or write; PyYAML handles the document instead."""


def _implicit(text: str) -> str:
    """The type PyYAML's resolver gives the plain scalar ``text``: str, null, bool, int, float or
    other (an int or float in another notation, a timestamp, a merge key or ``=``)."""
    if text in _NULLS:
        return "null"
    if text in _BOOLS:
        return "bool"
    if text[0] not in _NUMBER or not _NUMERIC.issuperset(text):
        return "other" if text in ("<<", "=") else "str"
    body = text[1:] if text[0] in "+-" else text
    if _digits(body):
        if body[0] != "0" or body == "0":
            return "int"
    else:
        whole, dot, fraction = body.partition(".")
        if dot and _digits(whole) and (not fraction or _digits(fraction)):
            return "float"
    # The rest, rare in a package, by PyYAML's regular expressions (imported only then: re is slow
    # to import).
    if not _COMPILED:
        import re

        _COMPILED.extend(re.compile(f"(?:{pattern})\\Z", re.X) for pattern in _RESOLVERS)
    return "other" if any(regex.match(text) for regex in _COMPILED) else "str"


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _construct(text: str):
    kind = _implicit(text)
    if kind == "str":
        return text
    if kind == "null":
        return None
    if kind == "bool":
        return _BOOLS[text]
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    raise Unsupported(f"plain scalar {text!r}")


def _is_entry(content: str) -> bool:
    return content == "-" or content.startswith("- ")


class Document:
    """A parsed YAML document: ``data``, entry head comments by path, paths of other comments."""

    def __init__(self, text: str):
        if not text.replace("\n", "").isprintable():
            raise Unsupported("tabs, control characters or unusual Unicode characters")
        self.lines = []
        for raw in text.split("\n"):
            content = raw.lstrip(" ")
            if content:
                self.lines.append((len(raw) - len(content), content.rstrip(" ")))
        self.pos = 0
        self.heads: dict[tuple, list[str]] = {}
        self.comments: set[tuple] = set()
        first = self.peek(())
        if first is None:
            self.data = None
            return
        if first[0] != 0 or _is_entry(first[1]) or first[1].startswith(("---", "...", "%")):
            raise Unsupported("document markers, directives or a top-level sequence")
        self.data = self.mapping(0, ())
        if self.peek(()) is not None:
            raise Unsupported("text after the document")

    def peek(self, path: tuple):
        """The next line that is not a comment; comments passed over are recorded under ``path``."""
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if not line[1].startswith("#"):
                return line
            self.comments.add(path)
            self.pos += 1
        return None

    def node(self, indent: int, path: tuple):
        """The block node on the next lines, indented more than ``indent``; None when there is none."""
        line = self.peek(path)
        if line is None or line[0] <= indent:
            return None
        return self.sequence(line[0], path) if _is_entry(line[1]) else self.mapping(line[0], path)

    def mapping(self, indent: int, path: tuple) -> dict:
        result = {}
        while (line := self.peek(path)) is not None and line[0] >= indent:
            if line[0] > indent or _is_entry(line[1]):
                raise Unsupported(f"unexpected indentation at {line[1]!r}")
            key, rest = self.key(line[1])
            self.pos += 1
            result[key] = self.value(rest, indent, (*path, key))
        return result

    def sequence(self, indent: int, path: tuple) -> list:
        result = []
        while (line := self.peek(path)) is not None and line[0] >= indent:
            if line[0] > indent or not _is_entry(line[1]):
                if line[0] == indent:
                    break
                raise Unsupported(f"unexpected indentation at {line[1]!r}")
            entry = (*path, len(result))
            rest = line[1][1:].lstrip(" ")
            if rest.startswith("#"):  # "- # text": the entry's head comment
                self.pos += 1
                head = [rest]
                while self.pos < len(self.lines) and self.lines[self.pos][1].startswith("#"):
                    if self.lines[self.pos][0] <= indent:
                        raise Unsupported("comment after an entry's head comment")
                    head.append(self.lines[self.pos][1])
                    self.pos += 1
                self.heads[entry] = head
                result.append(self.node(indent, entry))
            elif not rest:
                self.pos += 1
                result.append(self.node(indent, entry))
            elif _is_entry(rest) or rest[0] in "?:":
                raise Unsupported("nested entries on one line or complex keys")
            elif self.is_key(rest):  # "- key: value": a mapping that starts on the entry's line
                column = indent + len(line[1]) - len(rest)
                self.lines[self.pos] = (column, rest)
                result.append(self.mapping(column, entry))
            else:
                self.pos += 1
                result.append(self.inline(rest, entry))
                self.no_continuation(indent, entry)
        return result

    def value(self, rest: str, indent: int, path: tuple):
        if not rest or rest.startswith("#"):
            if rest:
                self.comments.add(path)
            line = self.peek(path)
            if line is not None and line[0] == indent and _is_entry(line[1]):
                return self.sequence(indent, path)
            return self.node(indent, path)
        value = self.inline(rest, path)
        self.no_continuation(indent, path)
        return value

    def no_continuation(self, indent: int, path: tuple) -> None:
        line = self.peek(path)
        if line is not None and line[0] > indent:
            raise Unsupported(f"multi-line scalar or unexpected indentation at {line[1]!r}")

    def inline(self, text: str, path: tuple):
        """The scalar (or ``{}``, ``[]``) that ``text`` starts with; the rest may be a comment."""
        if text[0] in "{[":
            value, tail = ({} if text[0] == "{" else []), text[2:]
            if text[1:2] != ("}" if text[0] == "{" else "]"):
                raise Unsupported("flow collection")
        else:
            value, tail, _ = _scalar(text, key=False)
        if tail:
            if not tail.startswith(" ") or not tail.lstrip(" ").startswith("#"):
                raise Unsupported(f"text after a value: {tail!r}")
            self.comments.add(path)
        return value

    def is_key(self, text: str) -> bool:
        try:
            _, tail, _ = _scalar(text, key=True)
        except Unsupported:
            return False
        return tail == ":" or tail.startswith(": ")

    def key(self, text: str):
        key, tail, quoted = _scalar(text, key=True)
        if not (tail == ":" or tail.startswith(": ")):
            raise Unsupported(f"not a mapping entry: {text!r}")
        if not isinstance(key, str) or not key or (not quoted and _implicit(key) != "str"):
            raise Unsupported(f"key {key!r} that is not a string")
        return key, tail[1:].lstrip(" ")


def _scalar(text: str, key: bool):
    """(value, text after it, quoted) of the scalar ``text`` starts with."""
    first = text[0]
    if first == "'":
        parts, start = [], 1
        while True:
            end = text.find("'", start)
            if end < 0:
                raise Unsupported("multi-line single-quoted scalar")
            if text[end + 1 : end + 2] != "'":
                parts.append(text[start:end])
                return "".join(parts), text[end + 1 :], True
            parts.append(text[start : end + 1])
            start = end + 2
    if first == '"':
        return _double_quoted(text)
    if first in _INDICATORS or (first in "?:-" and text[1:2] in ("", " ")):
        raise Unsupported(f"scalar starting with an indicator: {text!r}")
    colon_at_end = len(text) - 1 if text[-1] == ":" else -1
    end = min((at for at in (text.find(": "), text.find(" #"), colon_at_end) if at >= 0), default=len(text))
    if text[end : end + 1] == ":" and not key:
        raise Unsupported(f"mapping in a scalar's place: {text!r}")
    plain = text[:end].rstrip(" ")
    return (plain if key else _construct(plain)), text[len(plain) :], False


def _double_quoted(text: str):
    parts, index = [], 1
    while True:
        ends = [at for at in (text.find('"', index), text.find("\\", index)) if at >= 0]
        if not ends:
            raise Unsupported("multi-line double-quoted scalar")
        end = min(ends)
        parts.append(text[index:end])
        if text[end] == '"':
            return "".join(parts), text[end + 1 :], True
        code = text[end + 1 : end + 2]
        if code in _ESCAPES:
            parts.append(_ESCAPES[code])
            index = end + 2
        elif code in _CODES:
            digits = text[end + 2 : end + 2 + _CODES[code]]
            if len(digits) != _CODES[code] or not _HEX.issuperset(digits):
                raise Unsupported("bad escape")
            parts.append(chr(int(digits, 16)))
            index = end + 2 + len(digits)
        else:
            raise Unsupported("line continuation or unknown escape")


def _analyze(text: str):
    """(multiline, plain allowed, single quotes allowed) in block context, as PyYAML's emitter.

    PyYAML's ``Emitter.analyze_scalar`` with ``allow_unicode=False``, with string searches in place
    of its loop over the characters.
    """
    if not text:
        return False, True, True
    multiline = "\n" in text or "\x85" in text or "\u2028" in text or "\u2029" in text
    if not (text.isascii() and text.replace("\n", "").isprintable()):  # neither plain nor single-quoted
        return multiline, False, False
    first = text[0]
    indicators = (
        text.startswith(("---", "..."))
        or first in _INDICATORS
        or (first in "?:-" and text[1:2] in ("", " ", "\n"))
        or ": " in text
        or ":\n" in text
        or text.endswith(":")
        or " #" in text
        or "\n#" in text
    )
    break_space, space_break = "\n " in text, " \n" in text
    ends = first in " \n" or text[-1] in " \n"
    plain = not (multiline or indicators or ends)
    return multiline, plain, not (break_space or space_break)


def _quote(text: str) -> str:
    if text.isascii():
        return '"' + text.translate(_TO_ESCAPE) + '"'
    escaped = (
        _TO_ESCAPE.get(ord(ch), ch)
        if ch < "\x80"
        else f"\\u{ord(ch):04X}"
        if ch <= "\uffff"
        else f"\\U{ord(ch):08X}"
        for ch in text
    )
    return '"' + "".join(escaped) + '"'


def _text(value, key: bool = False) -> str:
    kind = type(value)
    if kind is str:
        multiline, plain, single = _analyze(value)
        if key and (not value or multiline or len(value) > 100):
            raise Unsupported("key that PyYAML writes as a complex key")
        if plain and _implicit(value) == "str":
            return value
        if single and not multiline:
            return "'" + value.replace("'", "''") + "'"
        if single:
            raise Unsupported("multi-line single-quoted scalar")
        return _quote(value)
    if key:
        raise Unsupported("key that is not a string")
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text
    raise Unsupported(f"value of type {kind.__name__}")


def dump(data: dict, heads: dict[int, list[str]] | None = None) -> str:
    """``data`` as block YAML; ``heads`` maps ``id()`` of a sequence entry to its head comment."""
    lines: list[str] = []
    _mapping(data, 0, lines, heads or {})
    return "\n".join(lines) + "\n"


def _mapping(data: dict, indent: int, lines: list[str], heads) -> None:
    pad = " " * indent
    for key, value in data.items():
        prefix = f"{pad}{_text(key, key=True)}:"
        if type(value) is dict and value:
            lines.append(prefix)
            _mapping(value, indent + 2, lines, heads)
        elif type(value) is list and value:
            lines.append(prefix)
            _sequence(value, indent, lines, heads)
        else:
            lines.append(f"{prefix} {_flat(value)}")


def _sequence(data: list, indent: int, lines: list[str], heads) -> None:
    pad = " " * indent
    for value in data:
        if type(value) in (dict, list) and value:
            start = len(lines)
            head = heads.get(id(value))
            if head:
                lines.extend(f"{pad}  {comment}" for comment in head)
            if type(value) is dict:
                _mapping(value, indent + 2, lines, heads)
            else:
                _sequence(value, indent + 2, lines, heads)
            lines[start] = f"{pad}- {lines[start][indent + 2 :]}"
        else:
            lines.append(f"{pad}- {_flat(value)}")


def _flat(value) -> str:
    if type(value) is dict:
        return "{}"
    if type(value) is list:
        return "[]"
    return _text(value)
