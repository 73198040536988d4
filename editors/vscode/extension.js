// The cnnspec extension: starts `cnnspec lsp` (the language server of the cnnspec Python
// package) for .cnn files. Highlighting comes from syntaxes/cnnspec.tmLanguage.json.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration("cnnspec");
  const serverOptions = {
    command: settings.get("server.command", "cnnspec"),
    args: settings.get("server.args", ["lsp"]),
    transport: TransportKind.stdio,
  };
  const clientOptions = {
    documentSelector: [{ language: "cnnspec" }],
    initializationOptions: { inlayHints: settings.get("inlayHints", true) },
    synchronize: { configurationSection: "cnnspec" },
  };
  client = new LanguageClient("cnnspec", "cnnspec", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand("cnnspec.restartServer", () => client.restart())
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
