"""The versioned JSON report (schema cnnspec/report@1). Fields are only ever added."""

from __future__ import annotations

SCHEMA = "cnnspec/report@1"


def _span(span) -> dict | None:
    if span is None:
        return None
    return {"line": span.line, "column": span.column, "end_line": span.end_line, "end_column": span.end_column}


def diagnostic_json(diagnostic, path: str) -> dict:
    span = diagnostic.span
    return {
        "severity": diagnostic.severity.value,
        "code": diagnostic.code,
        "message": diagnostic.message,
        "file": path,
        "line": span.line if span else None,
        "column": span.column if span else None,
        "end_line": span.end_line if span else None,
        "end_column": span.end_column if span else None,
        "notes": [{"message": n.message, "span": _span(n.span)} for n in diagnostic.notes],
    }


def _node_json(node, measures) -> dict:
    outputs = [list(shape) for shape in node.outputs] if node.outputs else None
    fields = {
        "id": node.id,
        "name": node.name,
        "op": node.op,
        "inputs": [value.node for value in node.inputs],
        "output": outputs[0] if outputs else None,
        "outputs": outputs,
        "params": node.params,
        "buffers": node.buffers,
        "neurons": node.neurons,
        "hparams": {key: list(v) if isinstance(v, tuple) else v for key, v in node.hparams.items()},
        "span": _span(node.span),
        "expansion": [_span(s) for s in node.expansion],
    }
    if measures is not None:
        rf = measures.receptive.get(node.id)
        cost = measures.costs.get(node.id)
        fields["rf"] = rf.to_json() if rf is not None else None
        fields["macs"] = cost.macs if cost else None
        fields["other_ops"] = cost.other_ops if cost else None
        fields["activation_bytes"] = measures.memory.activation_bytes.get(node.id)
    return fields


def _row_json(row) -> dict:
    return {
        "index": row.index,
        "type": row.type,
        "output": list(row.outputs[0]) if row.outputs else None,
        "neurons": row.neurons,
        "params": row.params,
        "nodes": [node.id for node in row.nodes],
    }


def report_json(analysis, rows, totals, measures=None, compute=None, lazy: bool = False) -> dict:
    """The report. `lazy`: its nodes and rows are iterators, made as cnnspec.report.jsonstream
    writes them, so that a large net's report is never held whole."""
    graph = analysis.graph
    totals = dict(totals)
    nodes = (_node_json(node, measures) for node in graph.nodes) if graph else ()
    table = (_row_json(row) for row in rows)
    report = {
        "schema": SCHEMA,
        "file": analysis.source.path,
        "net": graph.net if graph else None,
        "input": list(graph.input_shape) if graph and graph.input_shape else None,
        "nodes": nodes if lazy else list(nodes),
        "rows": table if lazy else list(table),
        "totals": totals,
        "diagnostics": [diagnostic_json(d, analysis.source.path) for d in analysis.diagnostics],
    }
    if compute is not None and measures is not None:
        memory = measures.memory
        totals.update(
            macs=compute.macs, other_ops=compute.other_ops, param_bytes=memory.param_bytes, train_step_bytes=memory.train_step_bytes
        )
        totals["unknown_cost_nodes"] = list(compute.unknown)
        report["memory"] = {"dtype": memory.dtype, "batch": memory.batch, "optimizer": memory.optimizer, **memory.breakdown}
    return report
