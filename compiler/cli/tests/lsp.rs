//! `plinth lsp` as an editor drives it: the real binary over stdio, JSON-RPC messages
//! with `Content-Length` framing, against a copy of examples/fraud-detection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    /// Notifications read while waiting for something else.
    notifications: Vec<Value>,
    next_id: i64,
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plinth"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            while let Some(msg) = read_message(&mut stdout) {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            incoming,
            notifications: Vec::new(),
            next_id: 1,
        };
        let root_uri = uri(root);
        let init = client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root_uri,
                "workspaceFolders": [{ "uri": root_uri, "name": "ws" }],
                "capabilities": {},
                "initializationOptions": { "policies": true },
            }),
        );
        assert_eq!(init["serverInfo"]["name"], "plinth", "{init}");
        assert_eq!(init["capabilities"]["hoverProvider"], true, "{init}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, msg: &Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// A `didChange`; diagnostics published before it are forgotten.
    fn change(&mut self, uri: &str, version: i64, changes: Value) {
        self.notifications
            .retain(|m| m["method"] != "textDocument/publishDiagnostics");
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": changes,
            }),
        );
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let reply = self.reply(method, params);
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    /// The whole response message: `result`, or `error` for a failed request.
    fn reply(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self
                .next(deadline)
                .unwrap_or_else(|| panic!("no reply to {method}"));
            if msg["id"] == json!(id) {
                return msg;
            }
            self.notifications.push(msg);
        }
    }

    fn next(&mut self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.incoming.recv_timeout(left).ok()
    }

    /// The first `publishDiagnostics` for a file whose list satisfies `pred`.
    fn diagnostics(&mut self, file: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let matches = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"].as_str().unwrap().ends_with(file)
                && pred(m["params"]["diagnostics"].as_array().unwrap())
        };
        if let Some(i) = self.notifications.iter().position(matches) {
            let m = self.notifications.remove(i);
            return m["params"]["diagnostics"].as_array().unwrap().clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let m = self.next(deadline).unwrap_or_else(|| {
                panic!(
                    "no matching diagnostics for {file}: {:#?}",
                    self.notifications
                )
            });
            if matches(&m) {
                return m["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.notifications.push(m);
        }
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fraud-detection");
    copy_dir(&example, &dir);
    dir.canonicalize().unwrap()
}

/// The LSP position (0-based line, UTF-16 column; ASCII here) of the `nth` occurrence of
/// `needle` in `text`, plus `delta` characters.
fn pos(text: &str, needle: &str, delta: usize) -> Value {
    let offset = text.find(needle).unwrap_or_else(|| panic!("no `{needle}`")) + delta;
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let character = offset - before.rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": character })
}

fn doc(uri: &str, position: Value) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": position })
}

fn labels(completion: &Value) -> Vec<String> {
    let items = completion
        .as_array()
        .or_else(|| completion["items"].as_array())
        .unwrap();
    items
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_session_over_stdio() {
    let root = workspace("session");
    let serving_path = root.join("serving.plinth");
    let serving = std::fs::read_to_string(&serving_path).unwrap();
    let serving_uri = uri(&serving_path);
    let mut client = Client::start(&root);
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": serving_uri, "languageId": "plinth", "version": 1, "text": serving } }),
    );

    // Hover on a field key: the kind table's doc and type.
    let hover = client.request(
        "textDocument/hover",
        doc(&serving_uri, pos(&serving, "replicas: 3..30", 2)),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(
        text.contains("Replica range `min..max` for autoscaling."),
        "{text}"
    );
    assert!(text.contains("range"), "{text}");

    // Hover on an enum-typed field shows the values from the stdlib.
    let hover = client.request(
        "textDocument/hover",
        doc(&serving_uri, pos(&serving, "accelerator: nvidia_t4", 1)),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("nvidia_t4"), "{text}");

    // Hover on a reference: the model's doc and derived facts.
    let hover = client.request(
        "textDocument/hover",
        doc(&serving_uri, pos(&serving, "model: fraud_scorer", 9)),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("model fraud_scorer"), "{text}");
    assert!(text.contains("Gradient-boosted fraud scorer"), "{text}");
    assert!(text.contains("Data classification: `"), "{text}");
    assert!(text.contains("Lineage (sources): "), "{text}");

    // Go to definition: the model in models.plinth, the feature in data.plinth.
    let def = client.request(
        "textDocument/definition",
        doc(&serving_uri, pos(&serving, "model: fraud_scorer", 9)),
    );
    assert!(
        def["uri"].as_str().unwrap().ends_with("/models.plinth"),
        "{def}"
    );
    let models = std::fs::read_to_string(root.join("models.plinth")).unwrap();
    assert_eq!(
        def["range"]["start"],
        pos(&models, "fraud_scorer {", 0),
        "{def}"
    );
    let def = client.request(
        "textDocument/definition",
        doc(
            &serving_uri,
            pos(&serving, "card_velocity.amount_sum_24h", 16),
        ),
    );
    let data = std::fs::read_to_string(root.join("data.plinth")).unwrap();
    assert!(
        def["uri"].as_str().unwrap().ends_with("/data.plinth"),
        "{def}"
    );
    assert_eq!(
        def["range"]["start"],
        pos(&data, "amount_sum_24h {", 0),
        "{def}"
    );
    // Into the stdlib: `extends std.tier1_online`.
    let def = client.request(
        "textDocument/definition",
        doc(&serving_uri, pos(&serving, "std.tier1_online", 5)),
    );
    assert!(
        def["uri"]
            .as_str()
            .unwrap()
            .ends_with("/std/profiles.plinth"),
        "{def}"
    );

    // Find references: the model's declaration and every use, across files.
    let refs = client.request(
        "textDocument/references",
        json!({
            "textDocument": { "uri": serving_uri },
            "position": pos(&serving, "model: fraud_scorer", 9),
            "context": { "includeDeclaration": true },
        }),
    );
    let files: Vec<&str> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["uri"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert!(files.contains(&"models.plinth"), "{files:?}");
    assert!(
        files.iter().filter(|f| **f == "serving.plinth").count() >= 2,
        "{files:?}"
    );

    // Document symbols.
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": serving_uri } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"fraud_api"), "{names:?}");

    // Completion: a new service's body offers its fields; values by type.
    let mut edited = format!("{serving}\nservice new_api {{\n  model: fraud_scorer\n  \n}}\n");
    client.change(&serving_uri, 2, json!([{ "text": edited }]));
    let at = pos(&edited, "model: fraud_scorer\n  \n", 22);
    let items = labels(&client.request("textDocument/completion", doc(&serving_uri, at)));
    assert!(items.contains(&"replicas".to_string()), "{items:?}");
    assert!(items.contains(&"slo".to_string()), "{items:?}");
    assert!(
        !items.contains(&"model".to_string()),
        "already written: {items:?}"
    );

    edited = edited.replace(
        "model: fraud_scorer\n  \n",
        "model: fraud_scorer\n  expose: \n",
    );
    client.change(&serving_uri, 3, json!([{ "text": edited }]));
    let at = pos(&edited, "expose: \n", 8);
    let items = labels(&client.request("textDocument/completion", doc(&serving_uri, at)));
    assert_eq!(items, ["internal", "public"], "enum values");
    edited = edited.replace("expose: \n", "model: \n");
    client.change(&serving_uri, 4, json!([{ "text": edited }]));
    let at = pos(&edited, "model: \n", 7);
    let items = labels(&client.request("textDocument/completion", doc(&serving_uri, at)));
    assert!(items.contains(&"fraud_scorer".to_string()), "{items:?}");
    assert!(
        !items.contains(&"card_velocity".to_string()),
        "a feature view is not a model: {items:?}"
    );

    // Back to the file as on disk: no diagnostics.
    client.change(&serving_uri, 5, json!([{ "text": serving }]));
    client.diagnostics("serving.plinth", <[Value]>::is_empty);

    // An incremental edit `4Gi` -> `4GB` publishes a unit error at the value.
    let at = pos(&serving, "memory: 4Gi", 9);
    let end = pos(&serving, "memory: 4Gi", 11);
    client.change(
        &serving_uri,
        6,
        json!([{ "range": { "start": at, "end": end }, "text": "GB" }]),
    );
    let diags = client.diagnostics("serving.plinth", |d| {
        d.iter().any(|d| d["code"] == "plinth::type::unit")
    });
    let unit = diags
        .iter()
        .find(|d| d["code"] == "plinth::type::unit")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(unit["range"]["start"]["line"], at["line"], "{unit}");
    assert!(unit["message"].as_str().unwrap().contains("4Gi"), "{unit}");

    // Fixing it clears the diagnostics.
    client.change(
        &serving_uri,
        7,
        json!([{ "range": { "start": at, "end": end }, "text": "Gi" }]),
    );
    client.diagnostics("serving.plinth", <[Value]>::is_empty);

    // A policy violation: public exposure of confidential data.
    let public = serving.replace("  callers:", "  expose: public\n  callers:");
    client.change(&serving_uri, 8, json!([{ "text": public }]));
    let diags = client.diagnostics("serving.plinth", |d| {
        d.iter()
            .any(|d| d["code"] == "security.no-public-confidential")
    });
    assert!(
        diags.iter().all(|d| d["source"] == "plinth policy"),
        "{diags:#?}"
    );

    // Formatting returns the canonical layout.
    let messy = serving.replace("  model: fraud_scorer", "model:    fraud_scorer");
    client.change(&serving_uri, 9, json!([{ "text": messy }]));
    let edits = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": serving_uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits.as_array().unwrap();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0]["newText"], serving.as_str());

    // A file the formatter refuses fails the request with the reason, as `plinth fmt`
    // prints it; the editor shows it instead of silently doing nothing.
    let options = json!({ "tabSize": 2, "insertSpaces": true });
    let mut version = 9;
    for (text, reason) in [
        (format!("{serving}\nservice {{"), "syntax errors"),
        // (A `///` after code that only a line of its own could hold, where it would
        // document the next entry: the fuzz regression of `plinth-syntax`.)
        (
            "source s {\n  region: a // note\n  /// x\n  .b\n  column c {\n    type: string\n  }\n}\n"
                .to_string(),
            "at 3:3 the layout would turn this `///` comment",
        ),
    ] {
        version += 1;
        client.change(&serving_uri, version, json!([{ "text": text }]));
        let reply = client.reply(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": serving_uri }, "options": options }),
        );
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{reason}: {reply}");
    }

    let shutdown = client.request("shutdown", Value::Null);
    assert_eq!(shutdown, Value::Null);
    client.notify("exit", Value::Null);
    let status = client.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&root);
}
