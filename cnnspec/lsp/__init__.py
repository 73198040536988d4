"""The language server (`cnnspec lsp`, needs the `lsp` extra: pygls and lsprotocol)."""
