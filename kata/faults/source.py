"""Line-preserving edits of Python source, addressed by syntax-tree nodes.

``ast.unparse`` would drop every comment and reformat the file; a broken kata must read like
the learner's own code. So edits are made on the text, at the positions the syntax tree gives,
and everything outside the edited statements stays byte for byte as it was.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["SourceEditor", "first_changed_line"]

_INDENT = re.compile(r"[ \t]*")


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


class SourceEditor:
    """Collects text edits against one source, then applies them all at once.

    Every position refers to the original text, so edits can be planned in any order as
    long as they do not overlap.
    """

    def __init__(self, source: str, *, filename: str = "<source>") -> None:
        self.source = source
        self.filename = filename
        self.tree = ast.parse(source, filename=filename)
        self.lines = source.splitlines(keepends=True)
        self._line_starts = [0]
        for line in self.lines:
            self._line_starts.append(self._line_starts[-1] + len(line))
        self._edits: list[_Edit] = []
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent

    # -- positions ------------------------------------------------------------------------
    def offset(self, lineno: int, col_bytes: int) -> int:
        """Absolute character offset of an ast (line, UTF-8 byte column) position."""
        line = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        col = len(line.encode("utf-8")[:col_bytes].decode("utf-8", errors="ignore"))
        return self._line_starts[lineno - 1] + col

    def span(self, node: ast.expr | ast.stmt | ast.keyword | ast.arg) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)
        end = self.offset(last_line(node), node.end_col_offset or 0)
        return start, end

    def text(self, node: ast.expr | ast.stmt) -> str:
        start, end = self.span(node)
        return self.source[start:end]

    def indent_of(self, lineno: int) -> str:
        match = _INDENT.match(self.lines[lineno - 1])
        return match.group(0) if match else ""

    def owns_lines(self, stmt: ast.stmt) -> bool:
        """True when the statement alone fills its lines (no ``a; b`` sharing a line)."""
        first = self.lines[stmt.lineno - 1]
        before = first.encode("utf-8")[: stmt.col_offset].decode("utf-8", errors="ignore")
        last = self.lines[last_line(stmt) - 1]
        after = last.encode("utf-8")[stmt.end_col_offset or 0 :].decode("utf-8", errors="ignore")
        return not before.strip() and (not after.strip() or after.strip().startswith("#"))

    def attached_comments(self, stmt: ast.stmt) -> int:
        """The first line of the comment block written directly above a statement."""
        first = stmt.lineno
        indent = self.indent_of(stmt.lineno)
        while first > 1:
            above = self.lines[first - 2]
            if above.strip().startswith("#") and self.indent_of(first - 1) == indent:
                first -= 1
            else:
                break
        return first

    def line_range(self, first: int, last: int) -> tuple[int, int]:
        return self._line_starts[first - 1], self._line_starts[last]

    # -- edits ---------------------------------------------------------------------------
    def replace(self, node: ast.expr | ast.stmt, text: str) -> None:
        start, end = self.span(node)
        self._add(start, end, text)

    def replace_range(self, start: int, end: int, text: str) -> None:
        self._add(start, end, text)

    def delete_statement(self, stmt: ast.stmt, *, keep_block: bool) -> None:
        """Remove a statement with its attached comment; ``keep_block`` leaves a ``pass``."""
        if keep_block or not self.owns_lines(stmt):
            self.replace(stmt, "pass")
            return
        first = self.attached_comments(stmt)
        self._add(*self.line_range(first, last_line(stmt)), "")

    def statement_lines(self, stmt: ast.stmt) -> str:
        """The statement's lines (with its attached comment), dedented to column 0."""
        first = self.attached_comments(stmt)
        start, end = self.line_range(first, last_line(stmt))
        indent = self.indent_of(stmt.lineno)
        chunk = self.source[start:end]
        if not chunk.endswith("\n"):
            chunk += "\n"
        return "".join(
            line[len(indent) :] if line.startswith(indent) else line
            for line in chunk.splitlines(keepends=True)
        )

    def insert_before(self, stmt: ast.stmt, dedented: str) -> None:
        """Insert lines (given at column 0) above a statement, at its indentation."""
        indent = self.indent_of(stmt.lineno)
        at = self._line_starts[self.attached_comments(stmt) - 1]
        self._add(at, at, _reindent(dedented, indent))

    def insert_after(self, stmt: ast.stmt, dedented: str) -> None:
        indent = self.indent_of(stmt.lineno)
        at = self._line_starts[last_line(stmt)]
        self._add(at, at, _reindent(dedented, indent))

    def move_before(self, stmt: ast.stmt, target: ast.stmt) -> None:
        text = self.statement_lines(stmt)
        self.delete_statement(stmt, keep_block=False)
        self.insert_before(target, text)

    def move_after(self, stmt: ast.stmt, target: ast.stmt) -> None:
        text = self.statement_lines(stmt)
        self.delete_statement(stmt, keep_block=False)
        self.insert_after(target, text)

    def wrap(self, stmts: list[ast.stmt], header: str) -> None:
        """Put consecutive statements under a new block ``header`` (e.g. ``with x:``)."""
        indent = self.indent_of(stmts[0].lineno)
        unit = _indent_unit(self.source)
        first = self.attached_comments(stmts[0])
        start, end = self.line_range(first, last_line(stmts[-1]))
        body = "".join(
            (unit + line) if line.strip() else line
            for line in self.source[start:end].splitlines(keepends=True)
        )
        self._add(start, end, f"{indent}{header}\n{body}")

    def unwrap(self, block: ast.With) -> None:
        """Remove a ``with`` line and dedent its body one level."""
        header_first = self.attached_comments(block)
        start, _ = self.line_range(header_first, block.lineno)
        _, end = self.line_range(block.lineno, last_line(block))
        outer = self.indent_of(block.lineno)
        inner = self.indent_of(block.body[0].lineno)
        body_start = self._line_starts[block.body[0].lineno - 1]
        lines = self.source[body_start:end].splitlines(keepends=True)
        dedented = "".join(
            outer + line[len(inner) :] if line.startswith(inner) else line for line in lines
        )
        self._add(start, end, dedented)

    def result(self) -> str:
        """The edited source (edits must not overlap)."""
        out = self.source
        last_start = len(out) + 1
        for edit in sorted(self._edits, key=lambda e: (e.start, e.end), reverse=True):
            if edit.end > last_start:
                raise ValueError("overlapping source edits")
            out = out[: edit.start] + edit.text + out[edit.end :]
            last_start = edit.start
        return out

    @property
    def changed(self) -> bool:
        return bool(self._edits)

    def _add(self, start: int, end: int, text: str) -> None:
        self._edits.append(_Edit(start, end, text))

    # -- navigation ----------------------------------------------------------------------
    def bodies(self) -> Iterator[list[ast.stmt]]:
        """Every statement list in the module (function bodies, loop bodies, branches...)."""
        for node in ast.walk(self.tree):
            for name in ("body", "orelse", "finalbody"):
                value = getattr(node, name, None)
                if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                    yield value

    def statement_of(self, node: ast.AST) -> ast.stmt:
        while not isinstance(node, ast.stmt):
            node = self.parents[node]
        return node

    def enclosing_function(self, lineno: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        best = None
        for node in ast.walk(self.tree):
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and (node.lineno <= lineno <= (node.end_lineno or node.lineno))
                and (best is None or node.lineno > best.lineno)
            ):
                best = node
        return best


def last_line(node: ast.expr | ast.stmt | ast.keyword | ast.arg) -> int:
    return node.end_lineno or node.lineno


def _reindent(dedented: str, indent: str) -> str:
    return "".join(
        (indent + line) if line.strip() else line for line in dedented.splitlines(keepends=True)
    )


def _indent_unit(source: str) -> str:
    """The file's own indentation step (four spaces unless it uses something else)."""
    for line in source.splitlines():
        match = _INDENT.match(line)
        if match and match.group(0) and line.strip():
            return match.group(0)
    return "    "


def first_changed_line(before: str, after: str) -> int:
    """1-based number of the first line of ``after`` that differs from ``before``."""
    old, new = before.splitlines(), after.splitlines()
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return number
    return min(len(old), len(new)) + 1
