//! Where the cursor is, for completion. Text being typed is rarely a valid file, so
//! this reads the text before the cursor with a small tolerant tokenizer and state
//! machine instead of the parser: which blocks enclose the cursor, and whether it
//! stands where a field name, a block name or a value goes.

use plinth_ir::kinds::{self, Record, Shape, Ty};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// Numbers, unit literals, dates, percents, strings: a complete value.
    Lit,
    Punct(char),
    Newline,
}

/// Tokens before `end`; `None` when `end` is inside a string or a comment.
fn tokenize(text: &str, end: usize) -> Option<Vec<(usize, usize, Tok)>> {
    let bytes = text.as_bytes();
    let end = end.min(bytes.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < end {
        let b = bytes.get(i).copied().unwrap_or(b' ');
        let next = bytes.get(i + 1).copied();
        let start = i;
        match b {
            b'\n' => {
                out.push((i, i + 1, Tok::Newline));
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'/' if next == Some(b'/') => {
                while i < bytes.len() && bytes.get(i) != Some(&b'\n') {
                    i += 1;
                }
                if i >= end {
                    return None;
                }
            }
            b'/' if next == Some(b'*') => {
                i += 2;
                while i < bytes.len()
                    && !(bytes.get(i) == Some(&b'*') && bytes.get(i + 1) == Some(&b'/'))
                {
                    i += 1;
                }
                i += 2;
                if i > end {
                    return None;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes.get(i) != Some(&b'"') && bytes.get(i) != Some(&b'\n')
                {
                    if bytes.get(i) == Some(&b'\\') {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                if i > end {
                    return None;
                }
                out.push((start, i, Tok::Lit));
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < end
                    && bytes
                        .get(i)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                out.push((start, i, Tok::Ident(text.get(start..i)?.to_string())));
            }
            b'0'..=b'9' | b'-' => {
                i += 1;
                while i < end
                    && bytes
                        .get(i)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || b"._%-".contains(c))
                {
                    i += 1;
                }
                out.push((start, i, Tok::Lit));
            }
            b'{' | b'}' | b'[' | b']' | b'(' | b')' | b':' | b',' | b';' | b'.' => {
                out.push((i, i + 1, Tok::Punct(char::from(b))));
                i += 1;
            }
            _ => i += 1,
        }
    }
    Some(out)
}

/// What opened a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Header {
    /// `kind name (for k)? (extends ..)? {`
    Decl {
        kind: String,
        name: String,
        for_kind: Option<String>,
    },
    /// `key name? {`
    Block { key: String, name: Option<String> },
    /// `key: variant {`
    Variant { key: String, variant: String },
    /// `key: {`
    Record,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Key,
    AfterKey(String),
    AfterName(String, String),
    Value(String),
    /// Inside `[` or `(` of a value; the stack of open brackets.
    Nested(String, Vec<char>),
    /// A value token was read; `.`, `(`, `{` or `..` may continue it.
    AfterValue(String, Option<String>),
}

struct Frame {
    header: Header,
    state: State,
    keys: Vec<String>,
}

/// What may be written at the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A declaration kind, at the top level.
    Kind,
    /// A profile name after `extends`.
    Extends { kind: String },
    /// A field name in a body; `present` are the keys already written there.
    Field { present: Vec<String> },
    /// The name of a `key NAME {` block (`slo latency`, `env staging`).
    BlockName { key: String },
    /// A value of the field `key`; `in_call` inside `(`, `head` is `view` in `view.`.
    Value {
        key: String,
        in_call: bool,
        head: Option<String>,
    },
}

/// The cursor's position: the enclosing bodies, outermost first, and the slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub headers: Vec<Header>,
    pub slot: Slot,
    /// The identifier being typed (replaced by the completion).
    pub prefix_start: usize,
}

pub fn cursor(text: &str, offset: usize) -> Option<Cursor> {
    let mut toks = tokenize(text, offset)?;
    let mut prefix_start = offset;
    if let Some((s, e, Tok::Ident(_))) = toks.last()
        && *e == offset
    {
        prefix_start = *s;
        toks.pop();
    }
    let mut head = None;
    if let (Some((_, dot_end, Tok::Punct('.'))), true) = (toks.last(), prefix_start > 0)
        && *dot_end == prefix_start
    {
        let n = toks.len();
        if let Some((_, _, Tok::Ident(h))) = n.checked_sub(2).and_then(|i| toks.get(i)) {
            head = Some(h.clone());
            toks.truncate(n - 2);
        }
    }
    let mut frames: Vec<Frame> = Vec::new();
    // Identifiers of the top-level statement being read.
    let mut top: Vec<String> = Vec::new();
    for (_, _, tok) in &toks {
        let Some(frame) = frames.last_mut() else {
            match tok {
                Tok::Ident(s) => top.push(s.clone()),
                Tok::Punct('{') => {
                    let kind = top.first().cloned().unwrap_or_default();
                    let name = top.get(1).cloned().unwrap_or_default();
                    let for_kind = top
                        .iter()
                        .position(|t| t == "for")
                        .and_then(|i| top.get(i + 1))
                        .cloned();
                    frames.push(Frame {
                        header: Header::Decl {
                            kind,
                            name,
                            for_kind,
                        },
                        state: State::Key,
                        keys: Vec::new(),
                    });
                    top.clear();
                }
                Tok::Punct('}') => top.clear(),
                _ => {}
            }
            continue;
        };
        let state = std::mem::replace(&mut frame.state, State::Key);
        frame.state = match (state, tok) {
            (State::Key, Tok::Ident(k)) => State::AfterKey(k.clone()),
            (State::AfterKey(k), Tok::Ident(n)) => State::AfterName(k, n.clone()),
            (State::AfterKey(k), Tok::Punct(':')) => {
                frame.keys.push(k.clone());
                State::Value(k)
            }
            (State::AfterKey(k), Tok::Punct('{')) => {
                frame.keys.push(k.clone());
                frames.push(Frame {
                    header: Header::Block { key: k, name: None },
                    state: State::Key,
                    keys: Vec::new(),
                });
                continue;
            }
            (State::AfterName(k, n), Tok::Punct('{')) => {
                frames.push(Frame {
                    header: Header::Block {
                        key: k,
                        name: Some(n),
                    },
                    state: State::Key,
                    keys: Vec::new(),
                });
                continue;
            }
            (State::Value(k), Tok::Punct('{')) => {
                frame.state = State::AfterValue(k, None);
                frames.push(Frame {
                    header: Header::Record,
                    state: State::Key,
                    keys: Vec::new(),
                });
                continue;
            }
            (State::AfterValue(k, Some(v)), Tok::Punct('{')) => {
                frame.state = State::AfterValue(k.clone(), None);
                frames.push(Frame {
                    header: Header::Variant { key: k, variant: v },
                    state: State::Key,
                    keys: Vec::new(),
                });
                continue;
            }
            (State::Value(k), Tok::Punct(c @ ('[' | '('))) => State::Nested(k, vec![*c]),
            (State::AfterValue(k, _), Tok::Punct(c @ ('[' | '('))) => State::Nested(k, vec![*c]),
            (State::Nested(k, mut open), Tok::Punct(c @ ('[' | '('))) => {
                open.push(*c);
                State::Nested(k, open)
            }
            (State::Nested(k, mut open), Tok::Punct(']' | ')')) => {
                open.pop();
                if open.is_empty() {
                    State::AfterValue(k, None)
                } else {
                    State::Nested(k, open)
                }
            }
            (s @ State::Nested(..), Tok::Punct('}')) | (s @ State::Nested(..), Tok::Punct('{')) => {
                // Unbalanced: leave the value.
                let _ = s;
                if matches!(tok, Tok::Punct('}')) {
                    frames.pop();
                    mark_value_done(&mut frames);
                }
                continue;
            }
            (s @ State::Nested(..), _) => s,
            (State::Value(k), Tok::Ident(v)) => State::AfterValue(k, Some(v.clone())),
            (State::Value(k), Tok::Lit) => State::AfterValue(k, None),
            (State::AfterValue(k, _), Tok::Punct('.')) => State::Value(k),
            (State::AfterValue(k, _), Tok::Lit) => State::AfterValue(k, None),
            (State::AfterValue(_, _), Tok::Ident(n)) => State::AfterKey(n.clone()),
            (_, Tok::Punct('}')) => {
                frames.pop();
                mark_value_done(&mut frames);
                continue;
            }
            (State::Value(k), Tok::Newline) => State::Value(k),
            (_, Tok::Newline | Tok::Punct(',' | ';')) => State::Key,
            (State::Key, _) => State::Key,
            (s, _) => s,
        };
    }
    let Some(frame) = frames.last() else {
        let slot = match top.as_slice() {
            [] => Slot::Kind,
            [.., last] if last == "extends" => Slot::Extends {
                kind: extends_kind(&top),
            },
            [kind, _, .., _] if top.iter().any(|t| t == "extends") => {
                Slot::Extends { kind: kind.clone() }
            }
            _ => return None,
        };
        return Some(Cursor {
            headers: Vec::new(),
            slot,
            prefix_start,
        });
    };
    // After a complete value, a name that does not touch it starts the next field.
    let gap = toks.last().is_none_or(|(_, e, _)| *e < prefix_start);
    let slot = match &frame.state {
        State::Key => Slot::Field {
            present: frame.keys.clone(),
        },
        State::AfterValue(..) if head.is_none() && gap => Slot::Field {
            present: frame.keys.clone(),
        },
        State::AfterValue(k, _) | State::Value(k) => Slot::Value {
            key: k.clone(),
            in_call: false,
            head,
        },
        State::Nested(k, open) => Slot::Value {
            key: k.clone(),
            in_call: open.last() == Some(&'('),
            head,
        },
        State::AfterKey(k) => Slot::BlockName { key: k.clone() },
        State::AfterName(..) => return None,
    };
    Some(Cursor {
        headers: frames.into_iter().map(|f| f.header).collect(),
        slot,
        prefix_start,
    })
}

fn extends_kind(top: &[String]) -> String {
    top.first().cloned().unwrap_or_default()
}

fn mark_value_done(frames: &mut [Frame]) {
    if let Some(parent) = frames.last_mut()
        && !matches!(parent.state, State::AfterValue(..))
    {
        parent.state = State::Key;
    }
}

/// The record of the innermost body, resolved through the kind tables.
pub fn record(headers: &[Header]) -> Option<&'static Record> {
    let mut current: Option<&'static Record> = None;
    for header in headers {
        current = match header {
            Header::Decl { kind, for_kind, .. } => {
                let kind = if kind == "profile" {
                    for_kind.as_deref()?
                } else {
                    kind.as_str()
                };
                kinds::kind(kind).map(|k| &k.record)
            }
            Header::Block { key, name } => match current?.field(key)?.shape {
                Shape::Block(rec) | Shape::Named(rec) => Some(rec),
                Shape::Choice(variants) => {
                    let name = name.as_deref()?;
                    variants.iter().find(|v| v.name == name)?.body
                }
                Shape::EnvOverride => current,
                Shape::Attr(_) => None,
            },
            Header::Variant { key, variant } => match current?.field(key)?.shape {
                Shape::Attr(Ty::Variant(variants)) => {
                    variants.iter().find(|v| v.name == variant)?.body
                }
                _ => None,
            },
            Header::Record => None,
        };
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cursor at `|` in `src`.
    fn at(src: &str) -> Option<Cursor> {
        let offset = src.find('|').unwrap();
        let text = src.replace('|', "");
        cursor(&text, offset)
    }

    fn slot(src: &str) -> Option<Slot> {
        at(src).map(|c| c.slot)
    }

    fn value(key: &str) -> Option<Slot> {
        Some(Slot::Value {
            key: key.into(),
            in_call: false,
            head: None,
        })
    }

    #[test]
    fn top_level_offers_kinds() {
        assert_eq!(slot("|"), Some(Slot::Kind));
        assert_eq!(slot("team a { owner: \"x\" }\nser|"), Some(Slot::Kind));
        assert_eq!(
            slot("service a extends |"),
            Some(Slot::Extends {
                kind: "service".into()
            })
        );
        assert_eq!(slot("// ser|"), None);
    }

    #[test]
    fn keys_and_values_in_bodies() {
        let c = at("service a {\n  model: m\n  rep|\n}").unwrap();
        assert_eq!(
            c.slot,
            Slot::Field {
                present: vec!["model".into()]
            }
        );
        assert_eq!(
            record(&c.headers)
                .unwrap()
                .field("replicas")
                .map(|f| f.name),
            Some("replicas")
        );
        assert_eq!(slot("environment e { tier: |"), value("tier"));
        assert_eq!(slot("environment e { tier: pro|"), value("tier"));
        assert_eq!(
            slot("environment e { tier: production  reg|"),
            Some(Slot::Field {
                present: vec!["tier".into()]
            })
        );
        assert_eq!(
            slot("environment e { tier: production |"),
            Some(Slot::Field {
                present: vec!["tier".into()]
            })
        );
        assert_eq!(
            slot("service s { slo |"),
            Some(Slot::BlockName { key: "slo".into() })
        );
        assert_eq!(slot("model m { inputs: [a.b, |"), value("inputs"));
        assert_eq!(
            slot("model m { inputs: [a.b, v.|"),
            Some(Slot::Value {
                key: "inputs".into(),
                in_call: false,
                head: Some("v".into())
            })
        );
        assert_eq!(
            slot("feature_view v { feature f { aggregate: sum(|"),
            Some(Slot::Value {
                key: "aggregate".into(),
                in_call: true,
                head: None
            })
        );
    }

    #[test]
    fn nested_records_resolve() {
        let c = at("service s {\n  rollout: canary { pa| }\n}").unwrap();
        assert!(record(&c.headers).unwrap().field("pause").is_some());
        let c = at("service s {\n  slo latency {\n    |\n  }\n}").unwrap();
        assert!(record(&c.headers).unwrap().field("threshold").is_some());
        let c = at("service s {\n  resources { cpu: 2  memory: 4Gi }\n  env prod { |").unwrap();
        assert!(record(&c.headers).unwrap().field("replicas").is_some());
        let c = at("profile p for service {\n  |").unwrap();
        assert!(record(&c.headers).unwrap().field("replicas").is_some());
    }
}
