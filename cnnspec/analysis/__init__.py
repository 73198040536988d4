"""Analyses over a checked layer graph: receptive fields, compute, memory, input sizes.

Each module exposes one function that takes a Graph and returns per-node results keyed by
node id plus any diagnostics; the per-layer rules live on the layer kinds themselves.
"""
