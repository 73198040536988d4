"""`cnnspec lsp` end to end, as an editor drives it: pytest-lsp starts the real server over
stdio and sends it the examples. One test per feature; the figures are checked against the
analysis (`cnnspec.load`, `cnnspec check`)."""

from __future__ import annotations

import asyncio
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnspec.analyze import analyze
from cnnspec.source import Source

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

import cnnspec  # noqa: E402
from cnnspec.format import format_text  # noqa: E402
from cnnspec.layers import MERGES, REGISTRY  # noqa: E402
from tests.helpers import ROOT, subprocess_env  # noqa: E402
from tests.test_fuzz import mutated_examples, programs_with_odd_numbers  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = ROOT / "examples"
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "cnnspec", "lsp"], server_env=subprocess_env())


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities(), initialization_options={}))
    yield
    await lsp_client.shutdown_session()


_opened = 0


def open_document(client: LanguageClient, text: str) -> str:
    """Open `text` under a new name (the server is shared by the module's tests)."""
    global _opened
    _opened += 1
    uri = f"file:///work/doc{_opened}.cnn"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="cnnspec", version=1, text=text))
    )
    return uri


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    event = types.TextDocumentContentChangeWholeDocument(text=text)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[event]
        )
    )


async def diagnostics_of(client: LanguageClient, uri: str, until=lambda diagnostics: True) -> list[types.Diagnostic]:
    """The diagnostics last published for `uri`, once there are some that satisfy `until`."""
    while client.diagnostics.get(uri) is None or not until(client.diagnostics[uri]):
        await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 30)
    return client.diagnostics[uri]


def where(text: str, line_text: str, word: str) -> types.Position:
    """The position of `word` in the line that starts (after indentation) with `line_text`."""
    for number, line in enumerate(text.split("\n")):
        if line.strip().startswith(line_text):
            return types.Position(line=number, character=line.index(word))
    raise AssertionError(f"no line starts with {line_text!r}")


async def hover_text(client, uri, position) -> str | None:
    result = await client.text_document_hover_async(types.HoverParams(text_document=doc(uri), position=position))
    return result.contents.value if result else None


RESNET18 = (EXAMPLES / "resnet18.cnn").read_text(encoding="utf-8")
UNET = (EXAMPLES / "unet.cnn").read_text(encoding="utf-8")


# ---- diagnostics ----------------------------------------------------------------------------------


async def test_diagnostics_are_checks(client: LanguageClient):
    path = ROOT / "tests" / "fixtures" / "errors" / "several_errors.cnn"
    text = path.read_text(encoding="utf-8")
    uri = open_document(client, text)
    found = await diagnostics_of(client, uri)
    with pytest.raises(cnnspec.CnnspecError) as raised:
        cnnspec.loads(text)
    expected = [(d.code, d.span.line - 1, d.span.column - 1, d.span.end_column - 1, d.message) for d in raised.value.diagnostics]
    got = [(d.code, d.range.start.line, d.range.start.character, d.range.end.character, d.message) for d in found]
    assert got == expected
    assert all(d.severity == types.DiagnosticSeverity.Error and d.source == "cnnspec" for d in found)


async def test_diagnostics_have_related_notes_and_warnings(client: LanguageClient):
    text = "net N {\n    input 3x32x32\n    a: conv(8, k=3)\n    a: conv(8, k=3)\n}\n"
    found = await diagnostics_of(client, open_document(client, text))
    assert [d.code for d in found] == ["E205"]
    (note,) = found[0].related_information
    assert note.message == "first used here" and note.location.range.start == types.Position(line=2, character=4)
    warned = await diagnostics_of(client, open_document(client, "net W {\n    input 3x8x8\n    conv(4, k=3)\n    batchnorm\n}\n"))
    assert "W402" in [d.code for d in warned]
    assert all(d.severity == types.DiagnosticSeverity.Warning for d in warned)


async def test_contract_failures_are_diagnostics(client: LanguageClient):
    text = (EXAMPLES / "lenet5.cnn").read_text(encoding="utf-8").replace("expect params == 61_706", "expect params == 61_000")
    found = await diagnostics_of(client, open_document(client, text))
    assert [(d.code, d.range.start.line) for d in found] == [("W404", 10), ("E500", 17)]  # the warning as check gives it
    assert "61,706" in found[1].message and found[1].severity == types.DiagnosticSeverity.Error


# ---- hover ----------------------------------------------------------------------------------------


async def test_hover_on_a_layer(client: LanguageClient):
    uri = open_document(client, RESNET18)
    node = next(n for n in cnnspec.load(EXAMPLES / "resnet18.cnn").to_json()["nodes"] if n["name"] == "conv1")
    text = await hover_text(client, uri, where(RESNET18, "conv1: conv(64", "conv("))
    assert "**conv1** `Conv2d` → 64 × 112 × 112" in text
    assert f"params {node['params']:,}" in text and "MACs 118.01 M" in text and "receptive field 7 × 7" in text
    in_block = await hover_text(client, uri, where(RESNET18, "conv2: conv(planes", "conv("))
    assert "*made 8 times*" in in_block and "**layer4.1.conv2**" not in in_block  # at most five parts shown
    assert "**layer1.0.conv2** `Conv2d` → 64 × 56 × 56" in in_block


async def test_hover_on_a_block_call_gives_its_totals(client: LanguageClient):
    uri = open_document(client, RESNET18)
    report = cnnspec.load(EXAMPLES / "resnet18.cnn").to_json()
    layer2 = [n for n in report["nodes"] if n["name"].startswith("layer2.0.")]
    text = await hover_text(client, uri, where(RESNET18, "layer2:", "basic(128, stride=2"))
    assert f"{len(layer2)} layers" in text and f"params {sum(n['params'] for n in layer2):,}" in text
    assert "→ 128 × 28 × 28" in text


async def test_hover_on_names(client: LanguageClient):
    uri = open_document(client, UNET)
    text = await hover_text(client, uri, where(UNET, "e2 = pool1", "e2"))
    assert text.startswith("tensor `e2` of UNet, defined at line 17") and "→ 64 × 32 × 32" in text
    module = await hover_text(client, uri, where(UNET, "module double_conv", "double_conv"))
    assert "module double_conv(c)" in module and "called" in module


async def test_hover_right_after_a_change_sees_it(client: LanguageClient):
    uri = open_document(client, RESNET18)
    changed = RESNET18.replace("conv1: conv(64, k=7", "conv1: conv(32, k=7")
    change(client, uri, 2, changed)
    text = await hover_text(client, uri, where(changed, "conv1: conv(32", "conv("))
    assert "→ 32 × 112 × 112" in text


async def test_a_syntax_error_keeps_the_last_analysis_for_hovers(client: LanguageClient):
    uri = open_document(client, RESNET18)
    await diagnostics_of(client, uri)  # the editor has shown this version's analysis
    position = where(RESNET18, "conv1: conv(64", "conv(")
    broken = RESNET18.replace("fc: linear(classes)", "fc: linear(classes")
    change(client, uri, 2, broken)
    assert "→ 64 × 112 × 112" in await hover_text(client, uri, position)
    found = await diagnostics_of(client, uri, until=lambda found: any(d.code == "E100" for d in found))
    assert [d.code for d in found] == ["E100"]


# ---- inlay hints ------------------------------------------------------------------------------------


async def test_inlay_hints_show_each_lines_shape(client: LanguageClient):
    uri = open_document(client, RESNET18)
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=40, character=0))
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=doc(uri), range=whole))
    by_line = {hint.position.line: hint.label for hint in hints}
    lines = RESNET18.split("\n")
    conv1 = where(RESNET18, "conv1: conv(64", "conv1").line
    assert by_line[conv1] == "→ 64 × 112 × 112"
    assert hints[[h.position.line for h in hints].index(conv1)].position.character == len(lines[conv1])
    assert by_line[where(RESNET18, "fc: linear", "fc").line] == "→ 1,000"
    assert by_line[where(RESNET18, "layer2:", "layer2").line] == "→ 128 × 28 × 28"
    assert by_line[where(RESNET18, "conv1: conv(planes", "conv1").line] == "→ 64 × 56 × 56 | 128 × 28 × 28 | 256 × 14 × 14 | +1 more"
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"cnnspec": {"inlayHints": False}}))
    assert len(await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=doc(uri), range=whole))) == 0
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"cnnspec": {"inlayHints": True}}))


# ---- names ------------------------------------------------------------------------------------------


async def test_go_to_definition(client: LanguageClient):
    uri = open_document(client, RESNET18)
    params = types.DefinitionParams(text_document=doc(uri), position=where(RESNET18, "layer3:", "basic"))
    found = await client.text_document_definition_async(params)
    module = where(RESNET18, "module basic", "basic")
    assert found.range.start == module and found.range.end.character == module.character + len("basic")
    tensor = await client.text_document_definition_async(
        types.DefinitionParams(doc(open_document(client, UNET)), where(UNET, "u3 = ", "u3"))
    )
    assert tensor.range.start == where(UNET, "u3 = ", "u3")


async def test_find_references(client: LanguageClient):
    uri = open_document(client, RESNET18)
    context = types.ReferenceContext(include_declaration=True)
    found = await client.text_document_references_async(
        types.ReferenceParams(text_document=doc(uri), position=where(RESNET18, "module basic", "basic"), context=context)
    )
    assert len(found) == RESNET18.count("basic(")  # the definition and every call
    uri = open_document(client, UNET)
    found = await client.text_document_references_async(
        types.ReferenceParams(text_document=doc(uri), position=where(UNET, "e1 = ", "e1"), context=context)
    )
    assert len(found) == UNET.count("e1 ") + UNET.count("(e1") + UNET.count(" e1)")


async def test_document_symbols(client: LanguageClient):
    uri = open_document(client, UNET)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc(uri)))
    assert [(s.name, s.detail) for s in symbols] == [("double_conv", "module"), ("UNet", "net")]
    children = {(c.name, c.detail) for c in symbols[1].children}
    assert {("classes", "parameter"), ("base", "parameter"), ("e1", "tensor"), ("u3", "tensor")} <= children


async def test_rename_a_block_and_a_tensor(client: LanguageClient):
    uri = open_document(client, RESNET18)
    params = types.RenameParams(text_document=doc(uri), position=where(RESNET18, "layer1:", "basic"), new_name="residual")
    edit = await client.text_document_rename_async(params)
    renamed = apply(RESNET18, edit.changes[uri])
    assert "basic" not in renamed and cnnspec.loads(renamed).totals == cnnspec.loads(RESNET18).totals
    uri = open_document(client, UNET)
    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=doc(uri), position=where(UNET, "e2 = ", "e2"), new_name="skip2")
    )
    renamed = apply(UNET, edit.changes[uri])
    assert (
        " e2" not in renamed and "(e2" not in renamed and cnnspec.loads(renamed).to_json()["rows"] == cnnspec.loads(UNET).to_json()["rows"]
    )


def apply(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start, end = edit.range.start, edit.range.end
        assert start.line == end.line
        line = lines[start.line]
        lines[start.line] = line[: start.character] + edit.new_text + line[end.character :]
    return "\n".join(lines)


# ---- completion, formatting, quick fixes ---------------------------------------------------------------


async def test_completion_of_layers_and_arguments(client: LanguageClient):
    text = "net N(width=8) {\n    input 3x8x8\n    x = conv(width, k=3)\n    x -> relu\n}\n"
    uri = open_document(client, text)
    await diagnostics_of(client, uri)
    change(client, uri, 2, text.replace("x -> relu", "x -> "))  # mid-edit: the names come from the text before
    items = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(uri), position=types.Position(line=3, character=9))
    )
    labels = {item.label for item in items.items}
    assert set(REGISTRY) | set(MERGES) <= labels and {"width", "x"} <= labels
    inside = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(uri), position=types.Position(line=2, character=20))
    )
    arguments = {item.label: item for item in inside.items}
    assert {"out=", "k=", "stride=", "pad=", "bias="} <= set(arguments)
    assert arguments["stride="].detail == "default 1" and "padding" in arguments["pad="].documentation


async def test_formatting_is_cnnspec_fmt(client: LanguageClient):
    text = "net N {\ninput 3x8x8\n  conv( 4,k=3 )->relu\n}\n"
    uri = open_document(client, text)
    params = types.DocumentFormattingParams(text_document=doc(uri), options=types.FormattingOptions(tab_size=4, insert_spaces=True))
    (edit,) = await client.text_document_formatting_async(params)
    assert edit.new_text == format_text(text) and edit.range.start == types.Position(line=0, character=0)


async def test_quick_fix_for_a_misspelt_layer(client: LanguageClient):
    text = "net N {\n    input 3x8x8\n    convv(4, k=3)\n}\n"
    uri = open_document(client, text)
    (diagnostic,) = await diagnostics_of(client, uri)
    assert diagnostic.code == "E200"
    context = types.CodeActionContext(diagnostics=[diagnostic])
    (action,) = await client.text_document_code_action_async(
        types.CodeActionParams(text_document=doc(uri), range=diagnostic.range, context=context)
    )
    assert action.title == "Change 'convv' to 'conv'"
    assert apply(text, action.edit.changes[uri]) == text.replace("convv", "conv")


async def test_quick_fix_silences_a_warning_on_its_line(client: LanguageClient):
    text = "net N {\n    input 3x8x8\n    conv(4, k=3) -> batchnorm\n}\n"
    uri = open_document(client, text)
    (diagnostic,) = await diagnostics_of(client, uri)
    assert diagnostic.code == "W402"
    context = types.CodeActionContext(diagnostics=[diagnostic])
    (action,) = await client.text_document_code_action_async(
        types.CodeActionParams(text_document=doc(uri), range=diagnostic.range, context=context)
    )
    assert action.title == "Silence W402 on this line"
    fixed = apply(text, action.edit.changes[uri])
    assert fixed == text.replace("-> batchnorm\n", "-> batchnorm  # cnnspec: ignore[W402]\n")
    analysis = analyze(Source("fixed.cnn", fixed))
    assert not analysis.diagnostics  # silenced, and the suppression is used (no W405)


# ---- never dies ---------------------------------------------------------------------------------------


def fuzzed_texts(count: int) -> list[str]:
    """`count` texts drawn from the fuzz corpus's strategies (tests/test_fuzz.py), the same every run."""
    texts: list[str] = []

    @settings(max_examples=count, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.text(), mutated_examples(), programs_with_odd_numbers()))
    def draw(text):
        texts.append(text)

    draw()
    return texts


async def test_fuzzed_texts_do_not_stop_the_server(client: LanguageClient):
    texts = fuzzed_texts(15)
    uri = open_document(client, "")
    for version, text in enumerate(texts, start=2):
        change(client, uri, version, text)
        for line in range(0, text.count("\n") + 1, 3):
            await client.text_document_hover_async(
                types.HoverParams(text_document=doc(uri), position=types.Position(line=line, character=4))
            )
        whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=10_000, character=0))
        await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=doc(uri), range=whole))
        await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc(uri)))
    change(client, uri, len(texts) + 2, RESNET18)
    assert "→ 64 × 112 × 112" in await hover_text(client, uri, where(RESNET18, "conv1: conv(64", "conv("))
