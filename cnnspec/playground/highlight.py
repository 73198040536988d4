"""The editor's cnnspec highlighting, generated from the Pygments lexer (cnnspec.lexer): each
of its rules, in order, becomes a JavaScript regular expression with the Pygments short class
names of its token types (kd, nb, mi, ...), and the colours are Pygments' own stylesheet for
those classes. static/editor.js runs the rules in a CodeMirror stream parser."""

from __future__ import annotations

import inspect

from pygments.token import STANDARD_TYPES, Whitespace

from cnnspec.lexer import CnnspecLexer

STYLE = "default"
# Python's Unicode-aware classes, spelt for a JavaScript regular expression with the u flag.
_WORD = r"\p{L}\p{N}\p{M}_"
_TRANSLATIONS = (
    (r"[^\W\d]", r"[\p{L}\p{Nl}_]"),  # a letter or _: where an identifier may start
    (r"\w", f"[{_WORD}]"),
    (r"\d", r"\p{Nd}"),
    # Every \b in the lexer ends a word, so it means "no word character follows".
    (r"\b", f"(?![{_WORD}])"),
    ('\\"', '"'),
    ("\\'", "'"),
)


class UnsupportedPattern(ValueError):
    """A lexer pattern this translation does not know how to spell in JavaScript."""


def javascript_pattern(pattern: str) -> str:
    """The Python regular expression `pattern` as a JavaScript one (compiled with flags "yu")."""
    out, index = [], 0
    while index < len(pattern):
        for python, javascript in _TRANSLATIONS:
            if pattern.startswith(python, index):
                out.append(javascript)
                index += len(python)
                break
        else:
            if pattern[index] == "\\" and pattern[index + 1 : index + 2].isalpha() and pattern[index + 1] not in "snt":
                raise UnsupportedPattern(f"cannot translate {pattern[index : index + 2]!r} in {pattern!r}")
            step = 2 if pattern[index] == "\\" else 1
            out.append(pattern[index : index + step])
            index += step
    return "".join(out)


def _style(token_type) -> str | None:
    """The token type's Pygments short class name (None: whitespace, left unstyled)."""
    if token_type in Whitespace:
        return None
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent
    return STANDARD_TYPES[token_type]


def _actions(action) -> list:
    """The token types of a rule: one, or bygroups' one per group."""
    if not callable(action):
        return [action]
    return list(inspect.getclosurevars(action).nonlocals["args"])


def mode() -> dict:
    """The rules (JavaScript pattern and one class per group, or one for the whole match)."""
    rules = []
    for rule in CnnspecLexer.tokens["root"]:
        pattern, action = rule[0], rule[1]
        pattern = pattern.get() if hasattr(pattern, "get") else pattern  # words(...)
        styles = [_style(token_type) for token_type in _actions(action)]
        rules.append({"pattern": javascript_pattern(pattern), "styles": styles, "groups": callable(action)})
    return {"rules": rules}


def stylesheet(scope: str = ".cm-content") -> str:
    """Pygments' CSS for the classes the rules use, under `scope`."""
    from pygments.formatters import HtmlFormatter

    lines = HtmlFormatter(style=STYLE).get_style_defs(scope).splitlines()
    return "\n".join(line for line in lines if line.startswith(f"{scope} .")) + "\n"
