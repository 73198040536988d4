"""Suppression comments: `# cnnspec: ignore[W402]` silences the named warnings on its line.

A comment holding `cnnspec: ignore[CODE, ...]` (or `cnnspec: ignore CODE, ...`, without
brackets; at the comment's start or after another `#` in it, so a reason may precede or
follow it) silences a warning of a named code whose place starts on the comment's line,
or whose expansion notes (the block and module calls that made the layer) name a call on
that line: a warning inside a block is silenced at one call and still reported at the
others. Errors cannot be silenced. A suppression that silences nothing is reported (W405),
as is one naming no code, an unknown code or an error's (W406).

Comments are not in the syntax tree: they are read from the text, a string literal's `#`
excepted (strings never span lines, so a line-wise scan suffices).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from cnnspec.diagnostics import CODES, Diagnostic, warning
from cnnspec.expressions import suggest
from cnnspec.source import Span

_STRING_OR_COMMENT = re.compile(r"""'[^'\n]*'|"[^"\n]*"|#[^\n]*""")
_DIRECTIVE = re.compile(r"#\s*(cnnspec:\s*(\w*)(?:\s*\[([^\]\n]*)\]|((?:[\s,]*[A-Za-z]+\d+\b)*)))")
_CODE = re.compile(r"[A-Za-z]+\d+")
_EXPANSION_NOTE = "in the expansion"  # the notes naming the calls that made a layer (cnnspec.expand, cnnspec.analyze)


class Suppression(NamedTuple):
    line: int
    codes: tuple[str, ...]  # warning codes, upper case
    span: Span  # the directive, `cnnspec: ignore[...]`


def read_suppressions(text: str) -> tuple[list[Suppression], list[Diagnostic]]:
    """The file's suppression comments, and a W406 for each mistake in one."""
    if "cnnspec:" not in text:  # the common case: no scan
        return [], []
    found, problems = [], []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    for match in _STRING_OR_COMMENT.finditer(text):
        if match.group().startswith("#"):
            line = bisect_right(line_starts, match.start())
            column = match.start() - line_starts[line - 1] + 1
            for directive in _DIRECTIVE.finditer(match.group()):
                span = Span(line, column + directive.start(1), line, column + directive.end(1))
                suppression = _suppression(directive, span, problems)
                if suppression is not None:
                    found.append(suppression)
    return found, problems


def _suppression(directive: re.Match, span: Span, problems: list) -> Suppression | None:
    word, listed, bare = directive.group(2), directive.group(3), directive.group(4)
    if word != "ignore":
        problems.append(warning("W406", f"unknown cnnspec directive '{word}'{suggest(word, ['ignore'])}", span))
        return None
    names = _CODE.findall(listed if listed is not None else bare)
    if not names or (listed is not None and _CODE.sub("", listed).strip(" ,")):
        problems.append(
            warning("W406", "write the warning codes to silence: `# cnnspec: ignore[W402]` or `# cnnspec: ignore W402, W404`", span)
        )
        return None
    codes = []
    for name in (name.upper() for name in names):
        if name not in CODES:
            warnings = [code for code in CODES if code.startswith("W")]
            problems.append(warning("W406", f"'{name}' is not a cnnspec diagnostic code{suggest(name, warnings)}", span))
        elif name.startswith("E"):
            problems.append(warning("W406", f"{name} is an error ({CODES[name]}); errors cannot be silenced", span))
        else:
            codes.append(name)
    return Suppression(span.line, tuple(codes), span) if codes else None


def apply_suppressions(diagnostics: list[Diagnostic], suppressions: list[Suppression]) -> tuple[list[Diagnostic], set]:
    """The diagnostics without the warnings silenced, and the (line, code) pairs that silenced one."""
    if not suppressions:
        return diagnostics, set()
    silenced_at = {(s.line, code) for s in suppressions for code in s.codes}
    kept, used = [], set()
    for diagnostic in diagnostics:
        places = {(line, diagnostic.code) for line in _lines(diagnostic)} & silenced_at
        if places:  # only warning codes are ever silenced
            used |= places
        else:
            kept.append(diagnostic)
    return kept, used


def _lines(diagnostic: Diagnostic) -> list[int]:
    """The lines a suppression of this diagnostic may be on: its place's and its calls'."""
    spans = [diagnostic.span] + [note.span for note in diagnostic.notes if note.message.startswith(_EXPANSION_NOTE)]
    return [span.line for span in spans if span is not None]


def unused_suppressions(suppressions: list[Suppression], used: set) -> list[Diagnostic]:
    """A W405 for each code of a suppression that silenced nothing."""
    found = []
    for suppression in suppressions:
        for code in suppression.codes:
            if (suppression.line, code) not in used:
                message = f"this suppression of {code} ({CODES[code]}) silences nothing on its line; remove it"
                found.append(warning("W405", message, suppression.span))
    return found
