"""What `check` reports for a clean analysis: its table rows and totals, the per-node measures,
the contract outcomes, and the JSON report; shared by the CLI, the Python API and the language server."""

from __future__ import annotations

from typing import NamedTuple

from cnnspec.diagnostics import position


class Parts(NamedTuple):
    """The folded rows, the totals and the per-node measures of a clean analysis."""

    rows: list
    totals: dict
    measures: object  # cnnspec.report.columns.Measures
    compute: object  # cnnspec.analysis.compute totals


def report_parts(analysis, dtype: str = "float32", batch: int = 1, optimizer: str = "sgd") -> Parts:
    from cnnspec.analysis.compute import totals as compute_totals
    from cnnspec.analysis.memory import memory
    from cnnspec.report.columns import Measures
    from cnnspec.rows import build_rows, totals

    graph = analysis.graph
    rows = build_rows(graph)
    measures = Measures(analysis.receptive, analysis.costs, memory(graph, dtype, batch, optimizer))
    return Parts(rows, totals(graph, rows), measures, compute_totals(graph, analysis.costs))


def check_contracts(analysis, parts: Parts, compare: bool) -> tuple | None:
    """The net's expectations (None without `compare`: not checked); a failed or invalid one
    becomes an error in the analysis's diagnostics."""
    from cnnspec.analysis.contracts import check_expectations, quantities

    graph = analysis.graph
    if not graph.expectations:
        return () if compare else None
    _, totals, measures, compute = parts
    measured = quantities(graph, analysis.receptive, totals, compute, measures.memory)
    outcomes, diagnostics = check_expectations(analysis.source, graph.expectations, measured, compare)
    analysis.diagnostics = sorted(analysis.diagnostics + diagnostics, key=position)
    return tuple(outcomes) if compare else None


def contract_lines(graph, outcomes) -> list[str]:
    if not graph.expectations:
        return []
    if outcomes is None:
        return ["contracts:  not checked (--input overrides the declared input)"]
    met = sum(outcome.passed for outcome in outcomes)
    valid = sum(outcome.valid for outcome in outcomes)
    invalid = len(outcomes) - valid  # errors, reported as such, not expectations unmet
    return [f"contracts:  {met} of {valid} expectations met" + (f"; {invalid} invalid (see the errors)" if invalid else "")]


def json_report(analysis, parts: Parts | None, outcomes, axes=None) -> dict:
    """The JSON report (cnnspec.report.jsonreport) of one analysis, with its contracts."""
    from cnnspec.report.jsonreport import report_json

    report = report_json(analysis, [], {}, None, None) if parts is None else report_json(analysis, *parts)
    if axes is not None:
        report["input_sizes"] = [axis.as_json() for axis in axes]
    report["contracts"] = [outcome.to_json() for outcome in outcomes or ()]
    return report
