//! `plinth fmt`: the one canonical layout of a `.plinth` file.
//!
//! The rules:
//! - 2-space indent; `use` lines first as written, declarations separated by one blank
//!   line; elsewhere one blank line is kept where the source had one or more (never
//!   right after `{` or right before `}`).
//! - Declarations always break: `kind name {`, one entry per line, `}`. A block whose
//!   body holds only attributes and no comments stays on one line when it fits in 80
//!   columns (`column id { type: string, pii: true }`); otherwise it breaks the same
//!   way; so does an `enum`'s list of values. An empty body prints as `{}`.
//! - Attributes are `key: value`. A value prints on one line when it can (no comments
//!   or doc comments inside it) and the whole line fits in 80 columns: lists as
//!   `[a, b]`, calls as `f(a, b)`, records and variants as `canary { a: 1, b: 2 }`.
//!   Otherwise its outermost bracket breaks (one item or entry per line, lists and calls
//!   with a trailing `,`) and the same rule applies to each item at its new indent.
//! - Literals print canonically: strings re-escaped (see [`string_literal`]), numbers and
//!   units as written, paths as `a.b`.
//! - Comments are kept, in order: a comment on its own line stays on its own line before
//!   the next entry; a comment after code on the same line stays at the end of that line.
//!   A comment inside a value that cannot stay where it was moves to the end of the line.
//!   Doc comments print as `/// text`.
//!
//! The output parses to the same tree (`dump(parse(format(x))) == dump(parse(x))`) and
//! formatting is idempotent; both are property-tested and fuzzed, and `format` checks
//! the first on every file: where a layout would change the tree it refuses
//! ([`FormatError::ChangesMeaning`]) rather than change what the file means.

use crate::ast::{Body, Comment, Doc, Entry, Expr, ExprKind, Item, SourceFile};
use crate::lexer::{self, Trivia};
use crate::{Span, parse};

/// Lines longer than this break their values.
pub const MAX_WIDTH: usize = 80;

/// Formats `text`; `None` when it has syntax errors or cannot be formatted without
/// changing what it means (see [`format_checked`]).
pub fn format(text: &str) -> Option<String> {
    format_checked(text).ok()
}

/// Why a file was not formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The file does not parse.
    Syntax,
    /// The canonical layout would parse differently. The one case known: a `///`
    /// comment that documents nothing (it follows other code on its line) which the
    /// layout must put on a line of its own, after a `//` comment, right before an
    /// entry: it would become that entry's doc. `span` is that comment's.
    ChangesMeaning { span: Span },
}

impl FormatError {
    /// Why, for a person: what `plinth fmt` and the language server report.
    pub fn reason(&self) -> &'static str {
        match self {
            FormatError::Syntax => "the file has syntax errors",
            FormatError::ChangesMeaning { .. } => {
                "the layout would turn this `///` comment into the doc of the next entry; write `//` for a comment that documents nothing"
            }
        }
    }
}

/// Formats `text`, and checks that the result parses to the same tree: a formatter
/// must never change what a file means, so a layout that would is refused.
pub fn format_checked(text: &str) -> Result<String, FormatError> {
    let before = parse(text);
    if before.has_errors() {
        return Err(FormatError::Syntax);
    }
    let out = format_file(text, &before.file);
    let after = parse(&out);
    if crate::dump(&after.file) == crate::dump(&before.file) {
        return Ok(out);
    }
    // The first comment of the source missing from the output's comments (in order)
    // is what changed; otherwise point at the start of the file.
    let moved = before
        .file
        .comments
        .iter()
        .enumerate()
        .find(|(i, c)| after.file.comments.get(*i).is_none_or(|a| a.text != c.text))
        .map_or(Span::new(0, 0), |(_, c)| c.span);
    Err(FormatError::ChangesMeaning { span: moved })
}

/// `value` as a canonical Plinth string literal: `"` and `\` escaped, line break and tab
/// as `\n` and `\t`, every other control character as `\u{..}`.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn format_file(src: &str, file: &SourceFile) -> String {
    let mut p = Printer {
        src,
        comments: &file.comments,
        next_comment: 0,
        out: String::with_capacity(src.len() + src.len() / 8),
        indent: 0,
        at_line_start: true,
        pending: Vec::new(),
        last_end: 0,
        no_blank: true,
        want_blank: false,
        split_blank: false,
    };
    let is_decl = |item: Option<&Item>| matches!(item, Some(Item::Decl(_)));
    for (i, item) in file.items.iter().enumerate() {
        let next = file.items.get(i + 1);
        // A blank line separates declarations from each other and from `use` lines.
        let blank_after = next.is_some() && (is_decl(Some(item)) || is_decl(next));
        match item {
            Item::Use(u) => {
                p.token(
                    Span::new(u.span.start as usize, u.span.start as usize + 3),
                    "use",
                );
                p.write(" ");
                p.token(u.path.span, &u.path.dotted());
                if let Some(alias) = &u.alias {
                    p.write(" as ");
                    p.token(alias.span, &alias.text);
                }
            }
            Item::Decl(d) => {
                p.docs(&d.docs);
                p.token(d.kind.span, &d.kind.text);
                p.write(" ");
                p.token(d.name.span, &d.name.text);
                if let Some(k) = &d.for_kind {
                    p.write(" for ");
                    p.token(k.span, &k.text);
                }
                for (i, path) in d.extends.iter().enumerate() {
                    p.write(if i == 0 { " extends " } else { ", " });
                    p.token(path.span, &path.dotted());
                }
                p.write(" ");
                match p.inline_enum(&d.body) {
                    Some(text) => p.token(d.body.span, &text),
                    None => p.body(&d.body),
                }
            }
        }
        // Comments split off this item's last line lead the next item: same blank line.
        p.split_blank = blank_after;
        p.newline();
        p.split_blank = false;
        p.want_blank = blank_after;
    }
    p.no_blank = p.out.is_empty();
    p.comments_before(usize::MAX);
    if !p.at_line_start {
        p.newline();
    }
    p.out
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    /// Comments before this index are printed (or pending).
    next_comment: usize,
    out: String,
    indent: usize,
    /// Nothing has been written on the current output line yet.
    at_line_start: bool,
    /// Comments to append at the end of the current output line.
    pending: Vec<&'a str>,
    /// Source offset just past the last token or comment printed.
    last_end: usize,
    /// No blank line may come next (after `{`, before `}`, at the start).
    no_blank: bool,
    /// A blank line must come next (between declarations).
    want_blank: bool,
    /// Comments split off a line after a `//` comment start after a blank line.
    split_blank: bool,
}

impl<'a> Printer<'a> {
    fn write(&mut self, text: &str) {
        self.out.push_str(text);
    }

    fn start_line(&mut self, src_pos: usize) {
        let blank_in_source = self
            .src
            .get(self.last_end.min(src_pos)..src_pos)
            .is_some_and(|gap| gap.matches('\n').count() >= 2);
        if self.want_blank || (blank_in_source && !self.no_blank) {
            self.out.push('\n');
        }
        self.want_blank = false;
        self.no_blank = false;
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.at_line_start = false;
    }

    /// Print the comments that start before `pos`: on their own lines when nothing is
    /// on the current line yet, else at the end of the current line.
    fn comments_before(&mut self, pos: usize) {
        while let Some(c) = self.comments.get(self.next_comment) {
            let start = c.span.start as usize;
            if start >= pos {
                break;
            }
            self.next_comment += 1;
            if self.at_line_start {
                self.start_line(start);
                self.out.push_str(&c.text);
                self.last_end = self.last_end.max(c.span.end as usize);
                // Comments that follow on the same source line stay on it: `/* a */ /// b`
                // on one line is two comments, but `/// b` on a line of its own would read
                // back as a doc comment.
                let mut end = c.span.end as usize;
                while let Some(next) = self.comments.get(self.next_comment) {
                    let next_start = next.span.start as usize;
                    let same_line = self
                        .src
                        .get(end..next_start)
                        .is_some_and(|gap| gap.trim_matches([' ', '\t']).is_empty());
                    if next_start >= pos || !same_line {
                        break;
                    }
                    self.pending.push(&next.text);
                    end = next.span.end as usize;
                    self.last_end = self.last_end.max(end);
                    self.next_comment += 1;
                }
                self.end_line();
            } else {
                self.pending.push(&c.text);
                self.last_end = self.last_end.max(c.span.end as usize);
            }
        }
    }

    /// Print `text` for the source node at `span`.
    fn token(&mut self, span: Span, text: &str) {
        self.comments_before(span.start as usize);
        if self.at_line_start {
            self.start_line(span.start as usize);
        }
        self.out.push_str(text);
        // Comments inside a node printed as one token go to the end of the line.
        self.comments_before(span.end as usize);
        self.last_end = self.last_end.max(span.end as usize);
    }

    /// End the output line, first taking the comments that follow the last printed
    /// token on the same source line (only separators may lie in between).
    fn newline(&mut self) {
        let mut pos = self.last_end;
        loop {
            if let Some((kind, end)) = lexer::trivia(self.src, pos) {
                match kind {
                    Trivia::Space { newline: true } => break,
                    Trivia::Space { newline: false } => {}
                    _ => {
                        let is_next = self
                            .comments
                            .get(self.next_comment)
                            .is_some_and(|c| c.span.start as usize == pos);
                        if !is_next {
                            break;
                        }
                        if let Some(c) = self.comments.get(self.next_comment) {
                            self.pending.push(&c.text);
                        }
                        self.next_comment += 1;
                        self.last_end = end;
                    }
                }
                pos = end;
            } else if self
                .src
                .get(pos..pos + 1)
                .is_some_and(|s| s == "," || s == ";")
            {
                pos += 1;
            } else {
                break;
            }
        }
        self.end_line();
    }

    fn end_line(&mut self) {
        let mut after_line_comment = false;
        for text in std::mem::take(&mut self.pending) {
            if after_line_comment {
                // Nothing may follow a `//` comment on its line.
                self.out.push('\n');
                if std::mem::take(&mut self.split_blank) {
                    self.out.push('\n');
                }
                for _ in 0..self.indent {
                    self.out.push_str("  ");
                }
            } else {
                self.out.push(' ');
            }
            self.out.push_str(text);
            // Once split, the rest are own-line comments, one per line, as they will
            // read back.
            after_line_comment |= text.starts_with("//");
        }
        self.out.push('\n');
        self.at_line_start = true;
    }

    /// Whether `end_line` would put a doc-shaped comment (`///`, not `////`) on a
    /// line of its own: it splits the comments after a `//` one, one per line.
    fn pending_splits_doc(&self) -> bool {
        let mut after_line_comment = false;
        for text in &self.pending {
            if after_line_comment && text.starts_with("///") && !text.starts_with("////") {
                return true;
            }
            after_line_comment |= text.starts_with("//");
        }
        false
    }

    /// The offset of the first token at or after `pos`.
    fn skip_trivia(&self, mut pos: usize) -> usize {
        while let Some((_, end)) = lexer::trivia(self.src, pos) {
            pos = end;
        }
        pos
    }

    fn column(&self) -> usize {
        let line = self.out.rsplit('\n').next().unwrap_or("");
        line.chars().count()
    }

    fn has_comments(&self, span: Span) -> bool {
        let rest = self.comments.get(self.next_comment..).unwrap_or(&[]);
        let first = rest.partition_point(|c| c.span.start < span.start);
        rest.get(first).is_some_and(|c| c.span.start < span.end)
    }

    fn docs(&mut self, docs: &[Doc]) {
        for doc in docs {
            let text = if doc.text.is_empty() {
                "///".to_string()
            } else {
                format!("/// {}", doc.text)
            };
            self.token(doc.span, &text);
            self.newline();
        }
    }

    /// `{`, the entries one per line, `}`; the caller has printed what precedes `{`.
    fn body(&mut self, body: &Body) {
        let open = body.span.start as usize;
        let close = (body.span.end as usize).saturating_sub(1);
        self.comments_before(open);
        if self.pending_splits_doc() {
            // Split off the `{` line, a `///` comment would land right before the first
            // entry and read back as its doc; before a `{` of its own it stays what it
            // was, a comment documenting nothing.
            if self.out.ends_with(' ') {
                self.out.pop();
            }
            self.end_line();
        }
        self.token(Span::new(open, open + 1), "{");
        if body.entries.is_empty() && !self.has_comments(body.span) {
            self.token(Span::new(close, close + 1), "}");
            return;
        }
        // Indent first: comments split off the `{` line belong to the inner lines.
        self.indent += 1;
        self.newline();
        self.no_blank = true;
        for entry in &body.entries {
            self.entry(entry);
            self.newline();
        }
        self.comments_before(close);
        self.indent -= 1;
        self.no_blank = true;
        self.token(Span::new(close, close + 1), "}");
    }

    fn entry(&mut self, entry: &Entry) {
        match entry {
            Entry::Attr(a) => {
                self.docs(&a.docs);
                self.token(a.key.span, &a.key.text);
                self.write(": ");
                self.value(&a.value, 0);
            }
            Entry::Block(b) => {
                self.docs(&b.docs);
                self.token(b.kind.span, &b.kind.text);
                if let Some(name) = &b.name {
                    self.write(" ");
                    self.token(name.span, &name.text);
                }
                self.write(" ");
                match self.inline_block(&b.body) {
                    Some(text) => self.token(b.body.span, &text),
                    None => self.body(&b.body),
                }
            }
            Entry::Bare(i) => self.token(i.span, &i.text),
        }
    }

    /// The one-line form of a block body of attributes only, without comments, when
    /// it fits: `column id { type: string, pii: true }`.
    fn inline_block(&self, body: &Body) -> Option<String> {
        let attrs_only =
            !body.entries.is_empty() && body.entries.iter().all(|e| matches!(e, Entry::Attr(_)));
        if !attrs_only || self.has_comments(body.span) {
            return None;
        }
        let mut text = String::new();
        inline_body(&mut text, body)?;
        (self.column() + text.chars().count() <= MAX_WIDTH).then_some(text)
    }

    /// `enum NAME { a, b, c }` on one line when it fits and has no comments.
    fn inline_enum(&self, body: &Body) -> Option<String> {
        let bare_only =
            !body.entries.is_empty() && body.entries.iter().all(|e| matches!(e, Entry::Bare(_)));
        if !bare_only || self.has_comments(body.span) {
            return None;
        }
        let mut text = String::new();
        inline_body(&mut text, body)?;
        (self.column() + text.chars().count() <= MAX_WIDTH).then_some(text)
    }

    /// A value at the current position; `reserve` columns follow it on the line.
    fn value(&mut self, e: &Expr, reserve: usize) {
        let inline = inline(e);
        if let Some(text) = &inline {
            let fits = self.column() + text.chars().count() + reserve <= MAX_WIDTH;
            if (fits && !self.has_comments(e.span)) || !is_container(e) {
                self.token(e.span, text);
                return;
            }
        }
        let open = e.span.start as usize;
        let close = (e.span.end as usize).saturating_sub(1);
        match &e.kind {
            ExprKind::List(items) => {
                self.token(Span::new(open, open + 1), "[");
                self.items(items, close, "]");
            }
            ExprKind::Call { callee, args } => {
                self.token(callee.span, &callee.dotted());
                let paren = self.skip_trivia(callee.span.end as usize);
                self.token(Span::new(paren, paren + 1), "(");
                self.items(args, close, ")");
            }
            ExprKind::Variant { name, body } => {
                self.token(name.span, &name.dotted());
                self.write(" ");
                self.body(body);
            }
            ExprKind::Record(body) => self.body(body),
            _ => self.token(e.span, inline.as_deref().unwrap_or("")),
        }
    }

    /// Broken list or call items, one per line with a trailing `,`, then `close_text`.
    fn items(&mut self, items: &[Expr], close: usize, close_text: &str) {
        self.indent += 1;
        self.newline();
        self.no_blank = true;
        for item in items {
            self.token(
                Span::new(item.span.start as usize, item.span.start as usize),
                "",
            );
            self.value(item, 1);
            self.write(",");
            self.newline();
        }
        self.comments_before(close);
        self.indent -= 1;
        self.no_blank = true;
        self.token(Span::new(close, close + 1), close_text);
    }
}

fn is_container(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::List(_) | ExprKind::Call { .. } | ExprKind::Variant { .. } | ExprKind::Record(_)
    )
}

/// The one-line form of a value; `None` when it holds doc comments.
fn inline(e: &Expr) -> Option<String> {
    let mut out = String::new();
    inline_into(&mut out, e)?;
    Some(out)
}

fn inline_into(out: &mut String, e: &Expr) -> Option<()> {
    match &e.kind {
        ExprKind::Str(s) => out.push_str(&string_literal(s)),
        ExprKind::Number(n) => out.push_str(n),
        ExprKind::Unit { number, suffix } => {
            out.push_str(number);
            out.push_str(suffix);
        }
        ExprKind::Percent(p) => {
            out.push_str(p);
            out.push('%');
        }
        ExprKind::Date { year, month, day } => {
            out.push_str(&format!("{year:04}-{month:02}-{day:02}"));
        }
        ExprKind::Range(lo, hi) => {
            inline_into(out, lo)?;
            out.push_str("..");
            inline_into(out, hi)?;
        }
        ExprKind::List(items) => {
            out.push('[');
            inline_list(out, items)?;
            out.push(']');
        }
        ExprKind::Path(p) => out.push_str(&p.dotted()),
        ExprKind::Call { callee, args } => {
            out.push_str(&callee.dotted());
            out.push('(');
            inline_list(out, args)?;
            out.push(')');
        }
        ExprKind::Variant { name, body } => {
            out.push_str(&name.dotted());
            out.push(' ');
            inline_body(out, body)?;
        }
        ExprKind::Record(body) => inline_body(out, body)?,
        ExprKind::Error => {}
    }
    Some(())
}

fn inline_list(out: &mut String, items: &[Expr]) -> Option<()> {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        inline_into(out, item)?;
    }
    Some(())
}

fn inline_body(out: &mut String, body: &Body) -> Option<()> {
    if body.entries.is_empty() {
        out.push_str("{}");
        return Some(());
    }
    out.push_str("{ ");
    for (i, entry) in body.entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match entry {
            Entry::Attr(a) => {
                if !a.docs.is_empty() {
                    return None;
                }
                out.push_str(&a.key.text);
                out.push_str(": ");
                inline_into(out, &a.value)?;
            }
            Entry::Block(b) => {
                if !b.docs.is_empty() {
                    return None;
                }
                out.push_str(&b.kind.text);
                if let Some(name) = &b.name {
                    out.push(' ');
                    out.push_str(&name.text);
                }
                out.push(' ');
                inline_body(out, &b.body)?;
            }
            Entry::Bare(i) => out.push_str(&i.text),
        }
    }
    out.push_str(" }");
    Some(())
}
