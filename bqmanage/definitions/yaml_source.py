"""Reading YAML safely: one file -> plain data, with the line of every key path.

Definitions and the config file are user input, so reading them must end, in bounded time and
memory, with either data or one located problem, whatever the bytes are. PyYAML's own composer
does not give that: it recurses once per nesting level (5,000 nested brackets raise
RecursionError in pure Python; 100,000, a 200 KB file, crash libyaml's C composer outright) and
aliases expand without limit (a dozen lines of ``&a [*b, *b, ...]`` make billions of nodes). So
the document is built here from the parser's event stream, iteratively, within these limits:

- ``MAX_BYTES``: a file larger than 4 MiB is refused before parsing (BigQuery's widest table,
  10,000 columns, each with a 300-character description, still fits);
- ``MAX_DEPTH``: nesting deeper than 100 levels is refused (a STRUCT nests at most 15 levels,
  about 35 YAML levels), which also keeps every later recursive step (pydantic, repr) safe;
- ``MAX_NODES``, and ``MAX_BYTES`` again: with every alias expanded, the document may hold at
  most 250,000 nodes and 4 MiB of scalar text. Aliases stay supported (with ``<<`` merge keys
  they are how a file shares column settings); these bounds make an alias bomb, of many small
  nodes or of one long string repeated, cost no more to validate (or to quote in an error)
  than a plain file could. A 10,000-column table with name, type, mode, default and
  description on every column is 110,000 nodes.

Only the YAML core scalar tags are accepted; a custom tag such as ``!vault`` is refused, and so is
a complex key (``? [a, b]``), since a definition key is always a plain scalar.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from bqmanage.definitions.source_text import MAX_BYTES
from bqmanage.errors import Problem

KeyPath = tuple[str | int, ...]

MAX_DEPTH = 100
MAX_NODES = 250_000

# libyaml's parser is several times faster than the pure-Python one and gives the same events and marks.
_LOADER: type[yaml.SafeLoader | yaml.CSafeLoader] = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader

_CORE = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _MERGE = _CORE + "str", _CORE + "seq", _CORE + "map", _CORE + "merge"
# Scalars of these tags are built by PyYAML's safe constructors; !!set, !!omap and !!pairs are
# left out on purpose: nothing in a definition or the config is one of them.
_SCALAR_CONSTRUCTORS = {
    _CORE + name: SafeConstructor.yaml_constructors[_CORE + name]
    for name in ("null", "bool", "int", "float", "binary", "timestamp")
}


class LineMap:
    """Where each key path of one file sits: path -> 1-based line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[KeyPath, int] = {}
        self.parser_failed = False  # True when the YAML parser, not bqmanage's own bounds, stopped the read

    def line(self, key_path: KeyPath) -> int | None:
        # Fall back to the nearest parent that has a line (e.g. for a missing key, or for what an
        # alias or a merge key brought in: that is reported where the alias is used).
        for end in range(len(key_path), -1, -1):
            if key_path[:end] in self.lines:
                return self.lines[key_path[:end]]
        return None

    def problem(self, key_path: KeyPath, message: str) -> Problem:
        return Problem(self.path, self.line(key_path), format_key_path(key_path), message)


def format_key_path(key_path: KeyPath) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Refused(Exception):
    """Stops building a document that cannot be read; carries the one problem to report."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message


class _Collection:
    """A sequence or mapping being built, with what its next child needs to know."""

    __slots__ = ("anchor", "items", "key", "key_path", "merges", "start")

    def __init__(self, key_path: KeyPath, items: list[Any] | dict[Any, Any], anchor: str | None, start: tuple[int, int]) -> None:
        self.key_path = key_path
        self.items = items
        self.anchor = anchor
        self.start = start  # (nodes, chars) counted before this one: its expanded size is the difference
        self.key: Any = _NO_KEY
        self.merges: list[dict[Any, Any]] = []


_NO_KEY = object()
_MERGE_KEY = object()

# Plain scalars, resolved and constructed: text -> (value, tag). A warehouse's definitions repeat
# the same few hundred words (STRING, REQUIRED, column names) thousands of times; resolving one
# runs a list of regular expressions. Every value kept is immutable (str, int, float, bool, None,
# bytes, date), so sharing it between documents changes nothing.
_PLAIN: dict[str, tuple[Any, str]] = {}
_PLAIN_LENGTH = 64  # longer texts (descriptions) rarely repeat
_PLAIN_ENTRIES = 50_000


def parse_yaml(text: str, display: str, allow_empty: bool = False) -> tuple[Any, LineMap, list[Problem]]:
    """Parse one YAML document into plain data plus its line map, or the problems that prevent it.

    A file with no document at all (empty, or only comments) is a problem unless ``allow_empty``;
    then its data is None.
    """
    data, lines, problems = _parse_with(_LOADER, text, display, allow_empty)
    if lines.parser_failed and _LOADER is not yaml.SafeLoader:
        # libyaml stops on limits of its own (PyYAML 6.0.4 builds it with a nesting limit of 1,000
        # flow levels, which its scanner can reach before this builder counts 100) and words its
        # syntax errors its own way. The error path is read again with the pure-Python parser, which
        # has neither, so that the one problem reported (its line and message) is bqmanage's and the
        # same whichever libyaml is installed.
        return _parse_with(yaml.SafeLoader, text, display, allow_empty)
    return data, lines, problems


def _parse_with(
    loader_class: type[yaml.SafeLoader | yaml.CSafeLoader], text: str, display: str, allow_empty: bool
) -> tuple[Any, LineMap, list[Problem]]:
    lines = LineMap(display)
    problems: list[Problem] = []
    loader = loader_class(text)
    try:
        return _Builder(loader, lines, problems).document(allow_empty), lines, problems
    except yaml.MarkedYAMLError as exc:
        lines.parser_failed = True
        mark = exc.problem_mark
        return None, lines, [Problem(display, mark.line + 1 if mark else None, "", f"invalid YAML: {exc.problem}")]
    except yaml.YAMLError as exc:  # a ReaderError (control character): read_text reports those with a line first
        lines.parser_failed = True
        return None, lines, [Problem(display, None, "", f"invalid YAML: {exc}")]
    except _Refused as exc:
        return None, lines, [Problem(display, exc.line, "", exc.message)]
    finally:
        loader.dispose()


class _Builder:
    """Builds one document from parser events with an explicit stack (no recursion)."""

    def __init__(self, loader: Any, lines: LineMap, problems: list[Problem]) -> None:
        self.loader = loader
        self.lines = lines.lines
        self.line_map = lines
        self.problems = problems
        self.stack: list[_Collection] = []
        self.anchors: dict[str, tuple[Any, int, int, int]] = {}  # anchor -> (value, nodes, chars, line)
        self.nodes = 0  # of the document so far, aliases expanded
        self.chars = 0  # of scalar text, likewise
        self.root: Any = None

    def document(self, allow_empty: bool) -> Any:
        loader = self.loader
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            if allow_empty:
                return None
            raise _Refused(1, "the file is empty")
        loader.get_event()  # DocumentStart
        self._build()
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            raise _Refused(loader.peek_event().start_mark.line + 1, "invalid YAML: expected one document, but found another")
        return self.root

    def _build(self) -> None:
        # The loop runs once per event, 100-200 times per definition file: the common cases (a
        # plain or quoted scalar as a key, a value or a list item) are written out here, the rest
        # goes through the methods below, which also say what each step means.
        get_event, stack, lines = self.loader.get_event, self.stack, self.lines
        while True:
            event = get_event()
            line = event.start_mark.line + 1
            kind = type(event)
            if kind is yaml.ScalarEvent:
                text = event.value
                self.nodes += 1
                self.chars += len(text)
                if self.nodes > MAX_NODES or self.chars > MAX_BYTES:
                    self._grow(0, 0, line)  # raises
                tag = event.tag
                if tag is not None and tag != "!":
                    value, tag = self._scalar(event, line)
                elif not event.implicit[0]:
                    value, tag = text, _STR  # quoted: always a string
                else:
                    known = _PLAIN.get(text)
                    if known is None:
                        known = self._scalar(event, line)
                        if len(text) <= _PLAIN_LENGTH:
                            if len(_PLAIN) >= _PLAIN_ENTRIES:
                                _PLAIN.clear()
                            _PLAIN[text] = known
                    value, tag = known
                if event.anchor is not None:
                    self._anchor(event.anchor, value, 1, len(text), line)
                if not stack:
                    self._add(value, line, False)
                    return
                parent = stack[-1]
                items = parent.items
                if type(items) is list:
                    lines.setdefault((*parent.key_path, len(items)), line)
                    items.append(value)
                elif parent.key is _NO_KEY:
                    if tag == _MERGE or type(value) is not str:
                        self._key(parent, value, line, tag == _MERGE)
                    else:
                        child = (*parent.key_path, value)
                        lines[child] = line
                        if value in items:
                            self.problems.append(self.line_map.problem(child, f"duplicate key {value!r}"))
                        parent.key = value
                elif parent.key is _MERGE_KEY:
                    self._add(value, line, False)
                else:
                    items[parent.key] = value
                    parent.key = _NO_KEY
                continue
            if kind is yaml.AliasEvent:
                done = self._add(self._alias(event.anchor, line), line, False)
            elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                self._open(event, line, [] if kind is yaml.SequenceStartEvent else {})
                continue
            else:  # SequenceEnd or MappingEnd
                top = stack.pop()
                value = self._close(top) if top.merges else top.items
                if top.anchor is not None:
                    self._anchor(top.anchor, value, self.nodes - top.start[0], self.chars - top.start[1], line)
                if stack:  # the common cases of _add: a list item (its line was kept when it opened), a value
                    parent = stack[-1]
                    if type(parent.items) is list:
                        parent.items.append(value)
                        continue
                    if parent.key is not _NO_KEY and parent.key is not _MERGE_KEY:
                        parent.items[parent.key] = value
                        parent.key = _NO_KEY
                        continue
                done = self._add(value, line, False)
            if done:
                return

    def _open(self, event: Any, line: int, items: list[Any] | dict[Any, Any]) -> None:
        tag = event.tag
        if tag is not None and tag != "!" and tag != (_SEQ if type(items) is list else _MAP):
            raise _Refused(line, f"unsupported tag {_short(tag)!r}; only plain YAML is allowed here")
        stack = self.stack
        if len(stack) >= MAX_DEPTH:
            if type(stack[-1].items) is dict and stack[-1].key is _NO_KEY:
                raise _Refused(line, "complex key (a list or mapping used as a key) is not supported; keys must be plain text")
            raise _Refused(line, f"nesting is deeper than {MAX_DEPTH} levels; refusing it")
        # The collection's key path; the line of a list item or of the document is recorded here. A
        # mapping value is located at its key, recorded by _key; what a merge key brings in is located
        # at the mapping that merges it (LineMap falls back to the parent).
        if not stack:
            key_path: KeyPath = ()
            self.lines[key_path] = line
        else:
            parent = stack[-1]
            if type(parent.items) is list:
                key_path = (*parent.key_path, len(parent.items))
                self.lines[key_path] = line
            elif parent.key is _NO_KEY:
                raise _Refused(line, "complex key (a list or mapping used as a key) is not supported; keys must be plain text")
            else:
                key_path = (*parent.key_path, "<<" if parent.key is _MERGE_KEY else str(parent.key))
        start = (self.nodes, self.chars)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self._grow(0, 0, line)  # raises
        stack.append(_Collection(key_path, items, event.anchor, start))

    def _scalar(self, event: Any, line: int) -> tuple[Any, str]:
        """The scalar's value and its resolved tag."""
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag in (_STR, _MERGE, _CORE + "value"):
            # `<<` as a key is a merge (see _key); as a value it, and YAML 1.1's `=`, is plain text.
            return event.value, tag
        constructor = _SCALAR_CONSTRUCTORS.get(tag)
        if constructor is None:
            raise _Refused(line, f"unsupported tag {_short(tag)!r}; only plain YAML is allowed here")
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return constructor(self.loader, node), tag
        except (ValueError, TypeError, LookupError, AttributeError, OverflowError, yaml.YAMLError) as exc:
            # PyYAML's scalar constructors raise these on malformed values, e.g. the implicit date
            # 2026-02-30, `!!bool maybe`, an empty `!!int` or `!!timestamp x`; none is a bug of ours.
            raise _Refused(line, f"cannot read {event.value!r} as {_short(tag)}: {exc}") from None

    def _alias(self, anchor: str, line: int) -> Any:
        if anchor not in self.anchors:
            if any(c.anchor == anchor for c in self.stack):
                raise _Refused(line, f"alias *{anchor} refers to a node that contains it (a recursive alias)")
            raise _Refused(line, f"alias *{anchor} is not defined before its use")
        value, nodes, chars, _ = self.anchors[anchor]
        self._grow(nodes, chars, line)
        return value

    def _anchor(self, anchor: str, value: Any, nodes: int, chars: int, line: int) -> None:
        if anchor in self.anchors:
            raise _Refused(line, f"anchor &{anchor} is defined twice (first at line {self.anchors[anchor][3]})")
        self.anchors[anchor] = (value, nodes, chars, line)

    def _grow(self, nodes: int, chars: int, line: int) -> None:
        self.nodes += nodes
        self.chars += chars
        if self.nodes > MAX_NODES:
            raise _Refused(
                line, f"the document expands to more than {MAX_NODES:,} YAML nodes (aliases counted in full); refusing it"
            )
        if self.chars > MAX_BYTES:
            raise _Refused(
                line, f"the document expands to more than {MAX_BYTES >> 20} MiB of text (aliases counted in full); refusing it"
            )

    def _add(self, value: Any, line: int, merge_key: bool) -> bool:
        """Attach a finished value to its parent; True once the root is finished."""
        if not self.stack:
            self.lines.setdefault((), line)
            self.root = value
            return True
        parent = self.stack[-1]
        items = parent.items
        if isinstance(items, list):
            self.lines.setdefault((*parent.key_path, len(items)), line)  # a collection item has its start line already
            items.append(value)
        elif parent.key is _NO_KEY:
            self._key(parent, value, line, merge_key)
        else:
            if parent.key is _MERGE_KEY:
                parent.merges.extend(self._merge_sources(value, line))
            else:
                parent.items[parent.key] = value
            parent.key = _NO_KEY
        return False

    def _key(self, parent: _Collection, key: Any, line: int, merge_key: bool) -> None:
        if merge_key:
            where = (*parent.key_path, "<<")
            duplicate = where in self.lines
            self.lines[where] = line
            if duplicate:
                self.problems.append(self.line_map.problem(where, "duplicate key '<<'"))
            parent.key = _MERGE_KEY
            return
        if isinstance(key, (list, dict)):
            raise _Refused(line, "complex key (a list or mapping used as a key) is not supported; keys must be plain text")
        child = (*parent.key_path, str(key))
        self.lines[child] = line
        if key in parent.items:
            self.problems.append(self.line_map.problem(child, f"duplicate key {key!r}"))
        parent.key = key

    def _merge_sources(self, value: Any, line: int) -> list[dict[Any, Any]]:
        # YAML's merge key: one mapping, or a list of them where the earlier ones win.
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, dict) for source in sources):
            raise _Refused(line, "merge key '<<' takes a mapping or a list of mappings (usually an alias: <<: *base)")
        return sources

    def _close(self, top: _Collection) -> Any:
        if not top.merges or not isinstance(top.items, dict):
            return top.items
        merged: dict[Any, Any] = {}
        for source in top.merges:
            for key, value in source.items():
                merged.setdefault(key, value)
        merged.update(top.items)  # keys written in the mapping itself win over merged ones
        return merged


def _short(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
