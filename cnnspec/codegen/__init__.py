"""Code generation: a checked layer graph -> PyTorch source (`cnnspec codegen`).

`cnnspec.codegen.module.generate_module(analysis, source_name)` writes the nn.Module file;
`cnnspec.codegen.verify` cross-checks it against the analysis with torch (`cnnspec verify`).
"""
