"""`cnnspec explain CODE`: what a diagnostic code means, an example that triggers it, and the fix."""

from __future__ import annotations

import itertools
import textwrap

import click

from cnnspec.diagnostics import CODES

WIDTH = 88

EXAMPLES_EXPLAIN = """
\b
Examples:
  cnnspec explain E301
  cnnspec explain w404
  cnnspec explain            # every code, one line each
"""


@click.command(epilog=EXAMPLES_EXPLAIN)
@click.argument("code", required=False)
def explain(code):
    """Explain a diagnostic code (E301, W404, ...): what it means, a small
    file that gets it, and how to fix it. Without a code, list every code."""
    from cnnspec.explanations import EXPLANATIONS

    if code is None:
        for known, summary in CODES.items():
            click.echo(f"{known}  {summary}")
        return
    wanted = code.strip().upper()
    if wanted not in EXPLANATIONS:
        raise click.BadParameter(f"no diagnostic code {code!r}; the codes are {code_ranges()}", param_hint="CODE")
    click.echo(explanation_text(wanted, EXPLANATIONS[wanted]))


def explanation_text(code: str, explanation) -> str:
    example = "\n".join(f"    {line}" for line in explanation.example.splitlines())
    fix = textwrap.fill(f"Fix: {explanation.fix}", WIDTH)
    return f"{code}: {CODES[code]}\n\n{textwrap.fill(explanation.explanation, WIDTH)}\n\nExample:\n\n{example}\n\n{fix}"


def code_ranges() -> str:
    """`E100-E102, E200-E213, ...`: the codes, grouped by their first two characters."""
    groups = itertools.groupby(CODES, key=lambda code: code[:2])
    spans = []
    for _, members in groups:
        members = list(members)
        spans.append(members[0] if len(members) == 1 else f"{members[0]}-{members[-1]}")
    return ", ".join(spans)
