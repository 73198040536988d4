"""`cnnspec lsp`: the language server (pygls), over standard input and output.

Analysis is lazy: a change only records the new text. A request (hover, inlay hints, ...)
analyses the newest text at once if it is not analysed yet, so a hover sent right after a
change is answered with that change analysed; the diagnostics are published a moment after
the last change (DEBOUNCE_SECONDS), and a newer change cancels that pending publication, so
no work is spent on a text already replaced. After a syntax error the requests that read the
layers (hover, inlay hints, names) use the last text that parsed.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from cnnspec import __version__
from cnnspec.lsp import features
from cnnspec.lsp.features import Snapshot
from cnnspec.lsp.index import Names

DEBOUNCE_SECONDS = 0.05
log = logging.getLogger("cnnspec.lsp")


class Document:
    """An open document: its newest text, and its analyses (made on demand)."""

    def __init__(self, uri: str):
        self.uri = uri
        self.version: int | None = None
        self.text = ""
        self.snapshot: Snapshot | None = None  # of the newest text, once analysed
        self.parsed: Snapshot | None = None  # the newest analysis of a text that parsed
        self.pending: asyncio.TimerHandle | None = None  # the scheduled publication of diagnostics


class CnnspecServer(LanguageServer):
    def __init__(self):
        super().__init__("cnnspec", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.documents: dict[str, Document] = {}
        self.inlay_hints_enabled = True

    def update(self, uri: str, version: int | None) -> None:
        """Record the newest text of `uri` (kept by pygls' workspace) and schedule its diagnostics."""
        document = self.documents.setdefault(uri, Document(uri))
        document.version = version
        document.text = self.workspace.get_text_document(uri).source
        document.snapshot = None
        if document.pending is not None:
            document.pending.cancel()
        document.pending = asyncio.get_running_loop().call_later(DEBOUNCE_SECONDS, self.publish, uri)

    def analysed(self, uri: str) -> Snapshot | None:
        """The analysis of the newest text of `uri`, made now if need be."""
        document = self.documents.get(uri)
        if document is None:
            return None
        if document.snapshot is None:
            try:
                document.snapshot = Snapshot(uri, document.version, document.text)
            except Exception:  # noqa: BLE001  a bug in cnnspec must not stop the server
                log.exception("cnnspec: internal error analysing %s", uri)
                return document.parsed
            if document.snapshot.parsed:
                document.parsed = document.snapshot
        return document.snapshot

    def last_parsed(self, uri: str) -> Snapshot | None:
        """For the requests that read the layers: the newest analysis of a text that parsed."""
        snapshot = self.analysed(uri)
        if snapshot is not None and snapshot.parsed:
            return snapshot
        document = self.documents.get(uri)
        return document.parsed if document is not None else None

    def publish(self, uri: str) -> None:
        document = self.documents.get(uri)
        if document is None:
            return
        document.pending = None
        snapshot = self.analysed(uri)
        if snapshot is None or snapshot.text != document.text:
            return
        try:
            diagnostics = features.lsp_diagnostics(snapshot)
        except Exception:  # noqa: BLE001  a bug in cnnspec must not stop the server
            log.exception("cnnspec: internal error checking %s", uri)
            return
        params = types.PublishDiagnosticsParams(uri=uri, version=document.version, diagnostics=diagnostics)
        self.text_document_publish_diagnostics(params)

    def close(self, uri: str) -> None:
        document = self.documents.pop(uri, None)
        if document is not None and document.pending is not None:
            document.pending.cancel()
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def safely(function):
    """A feature that fails answers nothing (and logs why) instead of an error; the server goes on."""

    @functools.wraps(function)  # pygls reads the signature: the first parameter, `ls`, is the server
    def run(*args):
        try:
            return function(*args)
        except Exception:  # noqa: BLE001  a bug in cnnspec must not stop the server
            log.exception("cnnspec: internal error in %s", function.__name__)
            return None

    return run


def create_server() -> CnnspecServer:
    server = CnnspecServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: CnnspecServer, params: types.InitializeParams):
        options = params.initialization_options or {}
        if isinstance(options, dict) and isinstance(options.get("inlayHints"), bool):
            ls.inlay_hints_enabled = options["inlayHints"]

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(ls: CnnspecServer, params: types.DidChangeConfigurationParams):
        settings = params.settings if isinstance(params.settings, dict) else {}
        section = settings.get("cnnspec", settings)
        if isinstance(section, dict) and isinstance(section.get("inlayHints"), bool):
            ls.inlay_hints_enabled = section["inlayHints"]

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CnnspecServer, params: types.DidOpenTextDocumentParams):
        ls.update(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CnnspecServer, params: types.DidChangeTextDocumentParams):
        ls.update(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CnnspecServer, params: types.DidCloseTextDocumentParams):
        ls.close(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @safely
    def hover(ls: CnnspecServer, params: types.HoverParams):
        snapshot = ls.last_parsed(params.text_document.uri)
        return features.hover(snapshot, params.position) if snapshot else None

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
    @safely
    def inlay_hint(ls: CnnspecServer, params: types.InlayHintParams):
        snapshot = ls.last_parsed(params.text_document.uri)
        if snapshot is None or not ls.inlay_hints_enabled:
            return []
        return features.inlay_hints(snapshot, params.range.start.line, params.range.end.line)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @safely
    def definition(ls: CnnspecServer, params: types.DefinitionParams):
        snapshot = ls.last_parsed(params.text_document.uri)
        return features.definition(snapshot, params.position) if snapshot else None

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    @safely
    def references(ls: CnnspecServer, params: types.ReferenceParams):
        snapshot = ls.last_parsed(params.text_document.uri)
        return features.references(snapshot, params.position, params.context.include_declaration) if snapshot else None

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    def rename(ls: CnnspecServer, params: types.RenameParams):
        snapshot = ls.analysed(params.text_document.uri)
        if snapshot is None or not snapshot.parsed:
            return None  # renaming in a text that does not parse could miss occurrences
        return features.rename(snapshot, params.position, params.new_name)  # a bad name: an error response

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @safely
    def document_symbol(ls: CnnspecServer, params: types.DocumentSymbolParams):
        snapshot = ls.last_parsed(params.text_document.uri)
        return features.document_symbols(snapshot) if snapshot else []

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["(", ",", " "]))
    @safely
    def completion(ls: CnnspecServer, params: types.CompletionParams):
        uri = params.text_document.uri
        snapshot = ls.last_parsed(uri)
        names = snapshot.names if snapshot is not None else Names(())
        text = ls.documents[uri].text
        return types.CompletionList(is_incomplete=False, items=features.completion(names, text, params.position))

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    @safely
    def formatting(ls: CnnspecServer, params: types.DocumentFormattingParams):
        document = ls.documents.get(params.text_document.uri)
        return features.formatting(document.uri, document.text) if document else None

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    @safely
    def code_action(ls: CnnspecServer, params: types.CodeActionParams):
        uri = params.text_document.uri
        snapshot = ls.analysed(uri)
        if snapshot is None:
            return None
        return features.code_actions(snapshot, ls.documents[uri].text, params.context.diagnostics)

    return server


def main() -> None:
    create_server().start_io()
