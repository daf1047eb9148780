"""audit-code, lexing: the pieces of a source file where a table name can be a reference.

A piece is a string literal's value, a config value or a SQL statement, with the file offset of
every character so that findings are located, and fixed, exactly. Comments, docstrings and
prose are never pieces: a name mentioned in a comment is not a reference. Placeholders of
f-strings and template literals become underscores of the same length (an identifier no table
is named), and are remembered, so that SQL analysis can treat them as unknown values.
"""

from __future__ import annotations

import ast
import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

_SQL_START = re.compile(r"\s*\(*\s*(?:SELECT|WITH|INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE)\b", re.I)


@dataclass(frozen=True)
class Piece:
    text: str
    start: int  # file offset of text[0], when offsets is None
    offsets: tuple[int, ...] | None = None  # file offset of each character, when not contiguous
    whole: bool = False  # one value: a bare dataset name counts when it is all of it
    sql: bool = False  # analyzed as SQL for table and column references
    holes: tuple[tuple[int, int], ...] = ()  # placeholder spans ({expr}, ${expr}) in text

    def at(self, i: int) -> int:
        """The file offset of text[i] (i may be len(text), the end)."""
        if self.offsets is None:
            return self.start + i
        return self.offsets[i] if i < len(self.offsets) else (self.offsets[-1] + 1 if self.offsets else self.start)


class Lines:
    """1-based line and column of a file offset.

    Every lookup costs O(log n) or O(1) after one pass over a line, never a pass per lookup: a
    minified file holds thousands of references on one line (bench/audit_code_long_line.py)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n?|\n", text)]
        # line -> (byte end of each non-ASCII character, characters before it), or None when ASCII
        self._wide: dict[int, tuple[list[int], list[int]] | None] = {}

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def line_text(self, line: int) -> str:
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        return self.text[self.starts[line - 1] : end].rstrip("\r\n")

    def offset(self, line: int, byte_col: int) -> int:
        """ast's (line, UTF-8 byte column) as a character offset."""
        start = self.starts[line - 1]
        if line not in self._wide:
            self._wide[line] = self._scan(line)
        wide = self._wide[line]
        if wide is None:
            return start + byte_col
        ends, chars = wide
        # The non-ASCII characters wholly before byte_col: each is 2-4 bytes for one character.
        k = bisect.bisect_right(ends, byte_col)
        if k == 0:
            return start + byte_col
        return start + chars[k - 1] + 1 + (byte_col - ends[k - 1])

    def _scan(self, line: int) -> tuple[list[int], list[int]] | None:
        text = self.line_text(line)
        if text.isascii():
            return None
        ends, chars, byte = [], [], 0
        for i, ch in enumerate(text):
            byte += len(ch.encode("utf-8", "surrogateescape")) if ord(ch) > 127 else 1
            if ord(ch) > 127:
                ends.append(byte)
                chars.append(i)
        return ends, chars


def pieces(kind: str, text: str) -> tuple[list[Piece], bool]:
    """The pieces of one file in file order, and whether it parsed (one that does not is lexed loosely)."""
    found, parsed = _pieces(kind, text)
    return sorted(found, key=lambda p: p.at(0)), parsed


def _pieces(kind: str, text: str) -> tuple[list[Piece], bool]:
    if kind == "python":
        found = python_pieces(text)
        return (found, True) if found is not None else (list(_loose(text, _PY_LOOSE)), False)
    if kind == "sql":
        return [Piece(mask(text, SQL_TOKENS), 0, sql=True)], True
    if kind == "yaml":
        found = yaml_pieces(text)
        return (found, True) if found is not None else (list(_loose(text, _SHELL_TOKENS)), False)
    if kind == "json":
        return list(_json_pieces(text)), True
    if kind == "js":
        return list(_loose(text, _JS_TOKENS)), True
    if kind == "shell":
        return list(_shell_pieces(text)), True
    return [Piece(text, 0)], True


# ---- Python: string literals from the ast, minus docstrings, dict keys and subscripts ----


def python_pieces(text: str) -> list[Piece] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    lines = Lines(text)
    out: list[Piece] = []
    stack: list[ast.AST] = [tree]
    while stack:  # iterative: long concatenations nest deeper than the recursion limit
        node = stack.pop()
        if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Constant, ast.JoinedStr)):
            continue  # a docstring or a bare string statement: prose, never executed
        if isinstance(node, (ast.Constant, ast.JoinedStr)):
            if isinstance(node, ast.JoinedStr) or isinstance(node.value, str):
                start = lines.offset(node.lineno, node.col_offset)
                end = lines.offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
                piece = _python_literal(text, start, end)
                if piece is not None:
                    out.append(piece)
            continue  # the expressions inside an f-string are code, not text
        if isinstance(node, ast.Dict):
            stack.extend(v for v in node.values if v is not None)
            stack.extend(k for k in node.keys if k is not None and not _is_str(k))  # keys are field names
            continue
        if isinstance(node, ast.Subscript):
            stack.append(node.value)
            if not _is_str(node.slice):
                stack.append(node.slice)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return out


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


_PY_OPEN = re.compile(r"([rRbBuUfF]{0,2})('''|\"\"\"|'|\")")


def _python_literal(text: str, start: int, end: int) -> Piece | None:
    """One string literal (or an implicit concatenation of several) as its value and offsets."""
    chars: list[str] = []
    offsets: list[int] = []
    holes: list[tuple[int, int]] = []
    i = start
    while i < end:
        m = _PY_OPEN.match(text, i)
        if m is None:  # whitespace, a comment or a line continuation between concatenated parts
            i = text.index("\n", i) if text[i] == "#" and "\n" in text[i:end] else i + 1
            continue
        prefix, quote = m.group(1).lower(), m.group(2)
        if "b" in prefix:
            return None
        raw, fmt = "r" in prefix, "f" in prefix
        j = m.end()
        run = j
        while j < end and not text.startswith(quote, j):
            c = text[j]
            if c == "\\" or (fmt and c in "{}" and text.startswith(c * 2, j)):
                j += 2
            elif fmt and c == "{":
                _decode_run(text, run, j, quote, raw, fmt, chars, offsets)
                close = _field_end(text, j, end)
                holes.append((len(chars), len(chars) + close - j))
                chars.extend("_" * (close - j))
                offsets.extend(range(j, close))
                j = run = close
            else:
                j += 1
        _decode_run(text, run, j, quote, raw, fmt, chars, offsets)
        i = j + len(quote)
    value = "".join(chars)
    sql = bool(_SQL_START.match(value))
    if sql:
        value = mask(value, SQL_TOKENS)  # a comment inside the SQL is prose too
    contiguous = all(b == a + 1 for a, b in itertools.pairwise(offsets))
    return Piece(
        value, offsets[0] if offsets else start, None if contiguous else tuple(offsets), whole=True, sql=sql, holes=tuple(holes)
    )


_ESCAPE = re.compile(r"\\(?:\r\n|[\n\\'\"abfnrtv]|[0-7]{1,3}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\})")


def _decode_run(text: str, a: int, b: int, quote: str, raw: bool, fmt: bool, chars: list[str], offsets: list[int]) -> None:
    """Append the value of text[a:b] and each character's file offset; an escape's characters
    sit at its backslash, and everything else at its own place."""
    at = a
    for m in [] if raw else _ESCAPE.finditer(text, a, b):
        _literal(text, at, m.start(), fmt, chars, offsets)
        try:
            value = ast.literal_eval(quote + m.group() + quote) if not m.group().startswith(("\\\n", "\\\r")) else ""
        except (SyntaxError, ValueError):
            value = m.group()
        chars.extend(value)
        offsets.extend([m.start()] * len(value))
        at = m.end()
    _literal(text, at, b, fmt, chars, offsets)


def _literal(text: str, a: int, b: int, fmt: bool, chars: list[str], offsets: list[int]) -> None:
    i = a
    while i < b:
        chars.append(text[i])
        offsets.append(i)
        i += 2 if fmt and text[i] in "{}" and text.startswith(text[i] * 2, i) else 1  # {{ is one {


def _field_end(text: str, i: int, end: int) -> int:
    """The offset after the ``}`` that closes the replacement field opened at ``i``."""
    depth, j = 0, i
    while j < end:
        c = text[j]
        if c in "'\"":
            close = text.find(c, j + 1, end)
            j = close + 1 if close != -1 else end
            continue
        depth += c == "{"
        depth -= c == "}"
        j += 1
        if depth == 0:
            return j
    return end


# ---- YAML: scalar values (never keys), located by the composer's marks ----


def yaml_pieces(text: str) -> list[Piece] | None:
    import yaml

    try:
        documents = list(yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))  # libyaml: 10x
    except yaml.YAMLError:
        return None
    out: list[Piece] = []
    seen: set[int] = set()
    stack: list[yaml.Node] = [d for d in documents if d is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue  # an alias repeats a node
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(value for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
            a, b = node.start_mark.index, node.end_mark.index
            raw = text[a:b]
            if node.style in ("'", '"') and len(raw) >= 2:
                a, b = a + 1, b - 1
            elif node.style in ("|", ">"):
                a = text.find("\n", a, b) + 1 or a  # the block's header line holds no value
            out.append(Piece(text[a:b], a, whole=text[a:b] == node.value))
    return out


# ---- loosely lexed languages: comments and strings by regex ----

SQL_TOKENS = re.compile(
    r"""(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<string>'''.*?(?:'''|\Z)|\"\"\".*?(?:\"\"\"|\Z)|'(?:[^'\\\n]|\\.)*'?|"(?:[^"\\\n]|\\.)*"?|`[^`\n]*`?)""",
    re.S | re.X,
)
_JS_TOKENS = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<string>'(?:[^'\\\n]|\\.)*'?|"(?:[^"\\\n]|\\.)*"?|`(?:[^`\\]|\\.)*`?)""",
    re.S | re.X,
)
_PY_LOOSE = re.compile(
    r"""(?P<comment>\#[^\n]*)
    |(?P<string>[rRbBuUfF]{0,2}(?:'''.*?(?:'''|\Z)|\"\"\".*?(?:\"\"\"|\Z)|'(?:[^'\\\n]|\\.)*'?|"(?:[^"\\\n]|\\.)*"?))""",
    re.S | re.X,
)
_SHELL_TOKENS = re.compile(
    r"""(?P<comment>(?:(?<=\s)|^)\#[^\n]*)
    |(?P<string>'[^']*'?|"(?:[^"\\]|\\.)*"?)""",
    re.S | re.X | re.M,
)
_TEMPLATE_HOLE = re.compile(r"\$\{[^{}`]*\}|\{[^{}\n]*\}")


def mask(text: str, tokens: re.Pattern[str]) -> str:
    """``text`` with every comment blanked out, newlines kept, so that offsets stay the same."""
    parts: list[str] = []
    last = 0
    for m in tokens.finditer(text):
        if m.lastgroup == "comment":
            parts.append(text[last : m.start()])
            parts.append(re.sub(r"[^\r\n]", " ", m.group()))
            last = m.end()
    parts.append(text[last:])
    return "".join(parts)


def _loose(text: str, tokens: re.Pattern[str]) -> Iterator[Piece]:
    """The string literals of a file lexed by regex; template placeholders become holes."""
    for m in tokens.finditer(text):
        if m.lastgroup != "string":
            continue
        token = m.group()
        opening = len(token) - len(token.lstrip("rRbBuUfF"))
        quote = token[opening : opening + 3] if token[opening : opening + 3] in ("'''", '"""') else token[opening : opening + 1]
        body_start = m.start() + opening + len(quote)
        body_end = m.end() - len(quote) if token.endswith(quote) and len(token) >= opening + 2 * len(quote) else m.end()
        body = text[body_start:body_end]
        holes = []
        if quote == "`" or "f" in token[:opening].lower():
            holes = [(h.start(), h.end()) for h in _TEMPLATE_HOLE.finditer(body)]
            for a, b in holes:
                body = body[:a] + "_" * (b - a) + body[b:]
        yield Piece(body, body_start, whole=True, holes=tuple(holes))


def _json_pieces(text: str) -> Iterator[Piece]:
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"(\s*:)?', text):
        if m.group(2) is None:  # a key is a field name, not a value
            yield Piece(m.group(1), m.start(1), whole=True)


def _shell_pieces(text: str) -> Iterator[Piece]:
    """Words and quoted strings outside comments: `bq show customers.x` names a table unquoted."""
    for m in re.finditer(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|([^\s'"#;|&()<>=]+)|(?:(?<=\s)|^)\#[^\n]*|\S""", text, re.M):
        group = next((g for g in (1, 2, 3) if m.group(g) is not None), None)
        if group is not None:
            yield Piece(m.group(group), m.start(group), whole=True)
