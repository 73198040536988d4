"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers: one run, one rule per
diagnostic code, one result per diagnostic (https://docs.oasis-open.org/sarif/sarif/v2.1.0/)."""

from __future__ import annotations

import os
import pathlib
from urllib.parse import quote

from cnnspec import __version__
from cnnspec.diagnostics import CODES
from cnnspec.report.github import repository_path

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/cnnspec/"


def _rule(code: str) -> dict:
    from cnnspec.explanations import EXPLANATIONS

    explanation = EXPLANATIONS[code]
    text = f"{explanation.explanation}\n\nFix: {explanation.fix}"
    return {
        "id": code,
        "shortDescription": {"text": CODES[code]},
        "fullDescription": {"text": explanation.explanation},
        "help": {"text": text, "markdown": f"{explanation.explanation}\n\n**Fix:** {explanation.fix}\n\n```\n{explanation.example}\n```"},
        "defaultConfiguration": {"level": "error" if code.startswith("E") else "warning"},
    }


def _region(span) -> dict:
    return {"startLine": span.line, "startColumn": span.column, "endLine": span.end_line, "endColumn": span.end_column}


def _uri(path: str) -> str:
    """A URI reference: relative to the repository where the file lies inside the working
    directory, else a file: URI; spaces, '#', '%' and the like percent-encoded ('s d/a#.cnn'
    -> 's%20d/a%23.cnn')."""
    chosen = repository_path(path)
    if os.path.isabs(chosen):
        return pathlib.Path(chosen).as_uri()
    return quote(chosen, safe="/")


def _location(path: str, span) -> dict:
    physical = {"artifactLocation": {"uri": _uri(path)}}
    if span is not None:
        physical["region"] = _region(span)
    return {"physicalLocation": physical}


def _result(diagnostic, path: str, rule_index: int) -> dict:
    result = {
        "ruleId": diagnostic.code,
        "ruleIndex": rule_index,
        "level": diagnostic.severity.value,
        "message": {"text": diagnostic.message},
        "locations": [_location(path, diagnostic.span)],
    }
    related = [
        dict(_location(path, note.span), id=i, message={"text": note.message}) for i, note in enumerate(diagnostic.notes) if note.span
    ]
    if related:
        result["relatedLocations"] = related
    return result


def sarif_log(analyses) -> dict:
    """One SARIF log for the diagnostics of every analysed file; its rules: every diagnostic code."""
    codes = list(CODES)
    index = {code: i for i, code in enumerate(codes)}
    results = [_result(d, analysis.source.path, index[d.code]) for analysis in analyses for d in analysis.diagnostics]
    driver = {"name": "cnnspec", "version": __version__, "informationUri": INFORMATION_URI, "rules": [_rule(code) for code in codes]}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}
