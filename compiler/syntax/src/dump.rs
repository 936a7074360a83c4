//! A span-free dump of the syntax tree, one node per line, for snapshot tests and for the
//! formatter's round-trip property (`dump(parse(format(x))) == dump(parse(x))`).
//!
//! Shape: `(decl kind name ...)` with its docs, `for`, `extends` and entries indented
//! below; values are S-expressions (`(unit "5" "m")`, `(list (num "1") (num "2"))`);
//! records and variants put their entries on the following lines. Comments come last, in
//! source order, as `(comment "...")`.

use std::fmt::Write;

use crate::ast::{Body, Doc, Entry, Expr, ExprKind, Item, SourceFile};

/// The tree without spans; equal dumps mean equal trees up to layout.
pub fn dump(file: &SourceFile) -> String {
    let mut out = String::new();
    for item in &file.items {
        match item {
            Item::Use(u) => {
                let _ = write!(out, "(use {}", u.path.dotted());
                if let Some(alias) = &u.alias {
                    let _ = write!(out, " as {}", alias.text);
                }
                out.push_str(")\n");
            }
            Item::Decl(d) => {
                let _ = write!(out, "(decl {} {}", d.kind.text, d.name.text);
                docs(&mut out, &d.docs, 1);
                if let Some(k) = &d.for_kind {
                    let _ = write!(out, "\n  (for {})", k.text);
                }
                if !d.extends.is_empty() {
                    out.push_str("\n  (extends");
                    for p in &d.extends {
                        let _ = write!(out, " {}", p.dotted());
                    }
                    out.push(')');
                }
                body(&mut out, &d.body, 1);
                out.push_str(")\n");
            }
        }
    }
    for c in &file.comments {
        let _ = writeln!(out, "(comment {:?})", c.text);
    }
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn docs(out: &mut String, docs: &[Doc], depth: usize) {
    for d in docs {
        newline(out, depth);
        let _ = write!(out, "(doc {:?})", d.text);
    }
}

fn body(out: &mut String, body: &Body, depth: usize) {
    for entry in &body.entries {
        newline(out, depth);
        match entry {
            Entry::Attr(a) => {
                let _ = write!(out, "(attr {}", a.key.text);
                docs(out, &a.docs, depth + 1);
                out.push(' ');
                expr(out, &a.value, depth + 1);
                out.push(')');
            }
            Entry::Block(b) => {
                let _ = write!(out, "(block {}", b.kind.text);
                if let Some(n) = &b.name {
                    let _ = write!(out, " {}", n.text);
                }
                docs(out, &b.docs, depth + 1);
                self::body(out, &b.body, depth + 1);
                out.push(')');
            }
            Entry::Bare(i) => {
                let _ = write!(out, "(bare {})", i.text);
            }
        }
    }
}

fn expr(out: &mut String, e: &Expr, depth: usize) {
    match &e.kind {
        ExprKind::Str(s) => {
            let _ = write!(out, "(str {s:?})");
        }
        ExprKind::Number(n) => {
            let _ = write!(out, "(num {n:?})");
        }
        ExprKind::Unit { number, suffix } => {
            let _ = write!(out, "(unit {number:?} {suffix:?})");
        }
        ExprKind::Percent(p) => {
            let _ = write!(out, "(percent {p:?})");
        }
        ExprKind::Date { year, month, day } => {
            let _ = write!(out, "(date {year} {month} {day})");
        }
        ExprKind::Range(lo, hi) => {
            out.push_str("(range ");
            expr(out, lo, depth);
            out.push(' ');
            expr(out, hi, depth);
            out.push(')');
        }
        ExprKind::List(items) => {
            out.push_str("(list");
            for item in items {
                out.push(' ');
                expr(out, item, depth);
            }
            out.push(')');
        }
        ExprKind::Path(p) => {
            let _ = write!(out, "(path {})", p.dotted());
        }
        ExprKind::Call { callee, args } => {
            let _ = write!(out, "(call {}", callee.dotted());
            for arg in args {
                out.push(' ');
                expr(out, arg, depth);
            }
            out.push(')');
        }
        ExprKind::Variant { name, body: b } => {
            let _ = write!(out, "(variant {}", name.dotted());
            body(out, b, depth);
            out.push(')');
        }
        ExprKind::Record(b) => {
            out.push_str("(record");
            body(out, b, depth);
            out.push(')');
        }
        ExprKind::Error => out.push_str("(error)"),
    }
}
