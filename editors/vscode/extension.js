// The Plinth extension: starts `plinth lsp` and lets vscode-languageclient do the rest.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("plinth");
  const command = config.get("path", "plinth");
  const server = { command, args: ["lsp"], transport: TransportKind.stdio };
  client = new LanguageClient(
    "plinth",
    "Plinth",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "plinth" }],
      initializationOptions: { policies: config.get("policies", true) },
      synchronize: {
        fileEvents: vscode.workspace.createFileSystemWatcher("**/*.plinth"),
      },
    },
  );
  context.subscriptions.push(client);
  return client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `Plinth: cannot start \`${command} lsp\` (${err.message}). Install plinth or set "plinth.path".`,
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
