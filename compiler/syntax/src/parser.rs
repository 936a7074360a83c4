//! The parser: a recursive-descent driver over the nom lexemes in `lexer.rs`.
//!
//! The grammar is small and LL(2), so the driver asks the lexer for one token at a time
//! (with one token of lookahead cached) and never backtracks; that keeps parsing linear.
//! Recovery works at three levels, each aiming at "one typo, one diagnostic":
//! - top level: a run of garbage gets one diagnostic, then parsing resumes at the next
//!   line that starts like a declaration (`kind name`) or a `use`;
//! - bodies: a bad entry gets one diagnostic, then parsing resumes at the next line that
//!   starts with a name, after a `,`/`;`, or at the closing `}`;
//! - lists and calls: a bad element becomes `ExprKind::Error` and parsing resumes at the
//!   next `,` or the closing bracket.
//!
//! INVARIANT: nesting of bodies, lists and calls is bounded by `MAX_DEPTH`; deeper input
//! is skipped iteratively, so no input can overflow the stack.

use crate::ast::{
    Attr, Block, Body, Comment, Decl, Doc, Entry, Expr, ExprKind, Ident, Item, Name, Path,
    SourceFile, Use,
};
use crate::codes;
use crate::lexer::{self, NumShape, Token, TokenKind, Trivia};
use crate::{Diagnostic, Parse, Span};

/// Deepest nesting of bodies, lists, records and calls the parser accepts.
pub const MAX_DEPTH: u32 = 64;

pub(crate) fn parse(text: &str) -> Parse {
    let mut parser = Parser {
        src: text,
        pos: 0,
        next: None,
        comments: Vec::new(),
        docs: Vec::new(),
        diagnostics: Vec::new(),
        entries: Vec::new(),
        segments: Vec::new(),
        depth: 0,
        eof_reported: false,
        in_enum: false,
    };
    let items = parser.file();
    parser.orphan_docs();
    let mut comments = parser.comments;
    // Orphaned docs join the comments late; restore source order.
    comments.sort_by_key(|c| c.span.start);
    let mut diagnostics = parser.diagnostics;
    diagnostics.sort_by_key(|d| d.span.start);
    Parse {
        file: SourceFile { items, comments },
        diagnostics,
    }
}

struct Parser<'a> {
    src: &'a str,
    /// End of the last consumed token.
    pos: usize,
    /// The next token, once lexed (its leading trivia is already recorded).
    next: Option<Token>,
    comments: Vec<Comment>,
    /// `///` lines waiting for the declaration or entry they document.
    docs: Vec<Doc>,
    /// Entries of the bodies being parsed, innermost last: each body pushes its own and
    /// moves them out when it closes, so every body's vector is allocated once, at its
    /// final size, instead of growing (and being shrunk) entry by entry.
    entries: Vec<Entry>,
    /// The segments of the path being parsed (paths do not nest).
    segments: Vec<Ident>,
    diagnostics: Vec<Diagnostic>,
    depth: u32,
    /// The end of the file was already reported as closing something too early.
    eof_reported: bool,
    /// Inside `enum NAME { ... }`, where bare names are the entries.
    in_enum: bool,
}

/// How a construct being parsed is described in messages: "after `replicas:`". The
/// text is built only for a message: every attribute value is parsed in a context.
#[derive(Clone, Copy)]
enum Context<'c> {
    /// After `key:`.
    AfterKey(&'c str),
    /// "in this list", "in this call".
    Within(&'static str),
}

impl std::fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Context::AfterKey(key) => write!(f, "after `{key}:`"),
            Context::Within(what) => f.write_str(what),
        }
    }
}

impl<'a> Parser<'a> {
    // ---- tokens ---------------------------------------------------------------------

    fn peek(&mut self) -> Token {
        if let Some(t) = self.next {
            return t;
        }
        let mut pos = self.pos;
        let mut newline = pos == 0;
        // Docs count only as the first thing on their line; `a: 1 /// x` is a comment.
        let mut line_head = pos == 0;
        while let Some((kind, end)) = lexer::trivia(self.src, pos) {
            match kind {
                Trivia::Space { newline: nl } => {
                    if nl {
                        newline = true;
                        line_head = true;
                    }
                }
                Trivia::LineComment => {
                    self.push_comment(pos, end);
                    line_head = false;
                }
                Trivia::DocComment => {
                    if line_head {
                        self.push_doc(pos, end);
                    } else {
                        self.push_comment(pos, end);
                    }
                    line_head = false;
                }
                Trivia::BlockComment { closed } => {
                    self.push_comment(pos, end);
                    if self.slice(pos, end).contains('\n') {
                        newline = true;
                    }
                    line_head = false;
                    if !closed {
                        self.error(
                            codes::UNCLOSED,
                            Span::new(pos, pos + 2),
                            "unclosed block comment",
                        )
                        .with_label("this comment is never closed")
                        .help("close it with `*/`");
                    }
                }
            }
            pos = end;
        }
        let t = lexer::token(self.src, pos, newline);
        self.next = Some(t);
        t
    }

    /// The token after the next one, without recording its trivia.
    fn peek2(&mut self) -> Token {
        let t = self.peek();
        let mut pos = t.end;
        let mut newline = false;
        while let Some((kind, end)) = lexer::trivia(self.src, pos) {
            if kind == (Trivia::Space { newline: true }) || kind == Trivia::LineComment {
                newline = true;
            }
            pos = end;
        }
        lexer::token(self.src, pos, newline)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        self.next = None;
        self.pos = t.end;
        self.orphan_docs();
        t
    }

    /// Docs not followed by a declaration or entry are kept as plain comments.
    fn orphan_docs(&mut self) {
        let docs = std::mem::take(&mut self.docs);
        self.docs_as_comments(&docs);
    }

    /// Docs kept as plain comments (`parse` sorts the comments into source order).
    fn docs_as_comments(&mut self, docs: &[Doc]) {
        for doc in docs {
            let text = self.src.get(doc.span.range()).unwrap_or("").to_string();
            self.comments.push(Comment {
                span: doc.span,
                text,
            });
        }
    }

    fn take_docs(&mut self) -> Vec<Doc> {
        std::mem::take(&mut self.docs)
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    fn text(&self, t: Token) -> &'a str {
        self.slice(t.start, t.end)
    }

    fn push_comment(&mut self, start: usize, end: usize) {
        let text = self.slice(start, end).trim_end_matches('\r');
        self.comments.push(Comment {
            span: Span::new(start, start + text.len()),
            text: text.to_string(),
        });
    }

    fn push_doc(&mut self, start: usize, end: usize) {
        let full = self.slice(start, end).trim_end_matches('\r');
        let body = full.get(3..).unwrap_or("");
        let body = body.strip_prefix(' ').unwrap_or(body);
        self.docs.push(Doc {
            text: body.to_string(),
            span: Span::new(start, start + full.len()),
        });
    }

    /// "`x`", "a string", "end of file": how a token is named in messages.
    fn describe(&self, t: Token) -> String {
        match t.kind {
            TokenKind::Eof => "end of file".to_string(),
            TokenKind::Str { .. } => "a string".to_string(),
            _ => {
                let text = self.text(t);
                match text.char_indices().nth(24) {
                    Some((cut, _)) => format!("`{}…`", text.get(..cut).unwrap_or(text)),
                    None => format!("`{text}`"),
                }
            }
        }
    }

    fn error(&mut self, code: &str, span: Span, message: impl Into<String>) -> DiagBuilder<'_> {
        self.diagnostics
            .push(Diagnostic::error(code, span, message.into()));
        DiagBuilder {
            diagnostics: &mut self.diagnostics,
        }
    }

    /// "expected X, found Y". When Y starts a new line, the span is the (empty) end of
    /// the previous token, where the missing X belongs.
    fn unexpected(&mut self, t: Token, expected: &str) -> DiagBuilder<'_> {
        self.unexpected_at(t, expected, t.line_start)
    }

    /// "expected X, found Y" pointing at Y itself: for garbage where something new starts.
    fn garbage(&mut self, t: Token, expected: &str) -> DiagBuilder<'_> {
        self.unexpected_at(t, expected, false)
    }

    fn unexpected_at(&mut self, t: Token, expected: &str, at_prev: bool) -> DiagBuilder<'_> {
        let found = self.describe(t);
        let span = if at_prev && self.pos > 0 {
            Span::new(self.pos, self.pos)
        } else {
            Span::new(t.start, t.end)
        };
        self.error(
            codes::UNEXPECTED,
            span,
            format!("expected {expected}, found {found}"),
        )
    }

    fn report_unclosed(&mut self, open: Token, at_eof: bool) {
        if at_eof {
            if self.eof_reported {
                return;
            }
            self.eof_reported = true;
        }
        let (opener, closer) = match open.kind {
            TokenKind::LBracket => ("[", "]"),
            TokenKind::LParen => ("(", ")"),
            _ => ("{", "}"),
        };
        self.error(
            codes::UNCLOSED,
            Span::new(open.start, open.end),
            format!("unclosed `{opener}`"),
        )
        .with_label(format!("this `{opener}` is never closed"))
        .help(format!("add the matching `{closer}`"));
    }

    // ---- identifiers ----------------------------------------------------------------

    /// An identifier token (or a digit-led name) as an `Ident`, reporting bad spellings.
    fn ident(&mut self, t: Token) -> Ident {
        let text = self.text(t);
        let span = Span::new(t.start, t.end);
        if matches!(t.kind, TokenKind::Number(_)) {
            self.error(
                codes::IDENT,
                span,
                format!("identifier `{text}` starts with a digit"),
            )
            .help(format!("names start with a letter or `_`, e.g. `_{text}`"));
        } else if text.bytes().any(|b| b.is_ascii_uppercase()) {
            self.error(
                codes::IDENT,
                span,
                format!("identifier `{text}` must be lowercase"),
            )
            .help(format!("write `{}`", snake_case(text)));
        }
        Ident {
            text: Name::new(text),
            span,
        }
    }

    fn is_name(t: Token) -> bool {
        matches!(
            t.kind,
            TokenKind::Ident
                | TokenKind::Number(NumShape::IdentLike)
                | TokenKind::Number(NumShape::Unit { .. })
        )
    }

    /// The next token is `word`; on the same line unless `across_lines`.
    fn at_keyword(&mut self, word: &str, across_lines: bool) -> bool {
        let t = self.peek();
        t.kind == TokenKind::Ident && (across_lines || !t.line_start) && self.text(t) == word
    }

    /// `a.b.c` whose first segment is the token `first` (already consumed).
    fn path_from(&mut self, first: Token) -> Path {
        let head = self.ident(first);
        if self.peek().kind != TokenKind::Dot {
            return Path {
                span: head.span,
                segments: vec![head],
            };
        }
        // Segments gather on a reused stack and move out at their final size: a path
        // of two (`std.tier1_online`, `view.feature`) had grown its vector twice.
        let mut segments = std::mem::take(&mut self.segments);
        segments.clear();
        segments.push(head);
        while self.peek().kind == TokenKind::Dot {
            let dot = self.bump();
            let t = self.peek();
            if t.kind == TokenKind::Ident {
                self.bump();
                segments.push(self.ident(t));
            } else {
                self.unexpected(t, "a name after `.`")
                    .with_label("a path continues with a name");
                let _ = dot;
                break;
            }
        }
        let start = segments
            .first()
            .map_or(first.start, |s| s.span.start as usize);
        let end = segments.last().map_or(first.end, |s| s.span.end as usize);
        let mut exact = Vec::with_capacity(segments.len());
        exact.append(&mut segments);
        self.segments = segments;
        Path {
            segments: exact,
            span: Span::new(start, end),
        }
    }

    // ---- top level ------------------------------------------------------------------

    fn file(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof => break,
                TokenKind::Ident if self.text(t) == "use" => {
                    if let Some(u) = self.use_item() {
                        items.push(Item::Use(u));
                    }
                }
                _ if Self::is_name(t) => {
                    if let Some(d) = self.decl() {
                        items.push(Item::Decl(d));
                    }
                }
                _ => {
                    let help = match t.kind {
                        TokenKind::RBrace => "this `}` has no matching `{`",
                        _ => "a declaration looks like `kind name { ... }`",
                    };
                    self.garbage(t, "a declaration").help(help);
                    self.bump();
                    self.skip_to_next_item();
                }
            }
        }
        items
    }

    /// Skip to the next line that starts like an item: `use ...` or `kind name`.
    fn skip_to_next_item(&mut self) {
        loop {
            let t = self.peek();
            if t.kind == TokenKind::Eof {
                return;
            }
            if t.line_start && Self::is_name(t) {
                if self.text(t) == "use" {
                    return;
                }
                let t2 = self.peek2();
                if Self::is_name(t2) && !t2.line_start {
                    return;
                }
            }
            self.bump();
        }
    }

    fn use_item(&mut self) -> Option<Use> {
        let kw = self.bump();
        let t = self.peek();
        if t.kind != TokenKind::Ident || t.line_start {
            self.unexpected(t, "a path after `use`")
                .help("write `use std.profiles` or `use std.profiles as p`");
            if !t.line_start {
                self.skip_to_next_item();
            }
            return None;
        }
        self.bump();
        let path = self.path_from(t);
        let mut end = path.span.end as usize;
        let mut alias = None;
        if self.at_keyword("as", false) {
            self.bump();
            let t = self.peek();
            if t.kind == TokenKind::Ident && !t.line_start {
                self.bump();
                let a = self.ident(t);
                end = a.span.end as usize;
                alias = Some(a);
            } else {
                self.unexpected(t, "a name after `as`");
                if !t.line_start {
                    self.skip_to_next_item();
                }
            }
        }
        Some(Use {
            path,
            alias,
            span: Span::new(kw.start, end),
        })
    }

    fn decl(&mut self) -> Option<Decl> {
        let docs = self.take_docs();
        let kind_t = self.bump();
        let kind = self.ident(kind_t);
        let start = docs.first().map_or(kind_t.start, |d| d.span.start as usize);
        let mut reported = false;

        let t = self.peek();
        let name = if Self::is_name(t) && !t.line_start {
            self.bump();
            Some(self.ident(t))
        } else {
            self.unexpected(t, &format!("a name after `{}`", kind.text))
                .help("a declaration looks like `kind name { ... }`");
            reported = true;
            None
        };

        let mut for_kind = None;
        let mut extends = Vec::new();
        if name.is_some() {
            if self.at_keyword("for", true) {
                self.bump();
                let t = self.peek();
                if t.kind == TokenKind::Ident {
                    self.bump();
                    for_kind = Some(self.ident(t));
                } else {
                    self.unexpected(t, "a kind after `for`")
                        .help("write `profile name for kind { ... }`");
                    reported = true;
                }
            }
            if !reported && self.at_keyword("extends", true) {
                self.bump();
                loop {
                    let t = self.peek();
                    if t.kind == TokenKind::Ident {
                        self.bump();
                        extends.push(self.path_from(t));
                    } else {
                        self.unexpected(t, "a profile path after `extends`")
                            .help("write `extends std.tier1_online`");
                        reported = true;
                        break;
                    }
                    if self.peek().kind == TokenKind::Comma {
                        self.bump();
                    } else {
                        break;
                    }
                }
            }
        }

        let t = self.peek();
        if t.kind != TokenKind::LBrace {
            if !reported {
                let header = match &name {
                    Some(n) => format!("`{} {}`", kind.text, n.text),
                    None => format!("`{}`", kind.text),
                };
                let d = self.unexpected(t, &format!("`{{` after {header}"));
                if t.kind == TokenKind::Colon || t.kind == TokenKind::Eq {
                    d.help("attributes belong inside a declaration: `kind name { key: value }`");
                } else {
                    d.help("a declaration looks like `kind name { ... }`");
                }
            }
            // Resume at a `{` later on the same line, else at the next item.
            loop {
                let t = self.peek();
                if t.kind == TokenKind::LBrace {
                    break;
                }
                if t.kind == TokenKind::Eof || t.line_start {
                    self.skip_to_next_item();
                    return None;
                }
                self.bump();
            }
        }
        let open = self.bump();
        self.in_enum = kind.text == "enum";
        let body = self.body(open);
        self.in_enum = false;
        let name = name?;
        Some(Decl {
            span: Span::new(start, body.span.end as usize),
            docs,
            kind,
            name,
            for_kind,
            extends,
            body,
        })
    }

    // ---- bodies ---------------------------------------------------------------------

    /// The entries after `open` (a consumed `{`) up to and including the closing `}`.
    fn body(&mut self, open: Token) -> Body {
        if self.depth >= MAX_DEPTH {
            let end = self.too_deep(open);
            return Body {
                entries: Vec::new(),
                span: Span::new(open.start, end),
            };
        }
        self.depth += 1;
        let base = self.entries.len();
        let end = loop {
            let t = self.peek();
            match t.kind {
                TokenKind::RBrace => {
                    self.bump();
                    break t.end;
                }
                TokenKind::Eof => {
                    self.report_unclosed(open, true);
                    break t.start;
                }
                TokenKind::Comma | TokenKind::Semi => {
                    self.bump();
                }
                _ if Self::is_name(t) => {
                    if let Some(e) = self.entry() {
                        self.entries.push(e);
                    }
                }
                _ => {
                    let d = self.garbage(t, "an attribute or a block");
                    if matches!(t.kind, TokenKind::RBracket | TokenKind::RParen) {
                        d.help("this bracket has no matching opening bracket");
                    } else {
                        d.help("an entry looks like `key: value` or `kind name { ... }`");
                    }
                    self.bump();
                    self.recover_in_body();
                }
            }
        };
        self.depth -= 1;
        // Exactly sized: trees stay in memory for incremental checking.
        let entries: Vec<Entry> = self.entries.drain(base..).collect();
        Body {
            entries,
            span: Span::new(open.start, end),
        }
    }

    /// Skip to where the next entry can start: a line starting with a name, a `,`/`;`,
    /// or the `}` of the current body (not consumed). Brackets in between are skipped
    /// as balanced groups, counted rather than recursed into.
    fn recover_in_body(&mut self) {
        let mut level = 0usize;
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof => return,
                _ if level == 0 && t.line_start && Self::is_name(t) => return,
                TokenKind::RBrace if level == 0 => return,
                TokenKind::Comma | TokenKind::Semi if level == 0 => {
                    self.bump();
                    return;
                }
                TokenKind::LBrace | TokenKind::LBracket | TokenKind::LParen => level += 1,
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen => {
                    level = level.saturating_sub(1);
                }
                _ => {}
            }
            self.bump();
        }
    }

    fn entry(&mut self) -> Option<Entry> {
        let docs = self.take_docs().into_boxed_slice();
        let key_t = self.bump();
        let key = self.ident(key_t);
        let start = docs.first().map_or(key_t.start, |d| d.span.start as usize);
        let t = self.peek();
        let value = match t.kind {
            TokenKind::Colon => {
                self.bump();
                self.value(&key)
            }
            TokenKind::Eq => {
                self.unexpected(t, &format!("`:` after `{}`", key.text))
                    .help("`=` is not used in Plinth; write `key: value`");
                self.bump();
                self.value(&key)
            }
            TokenKind::LBrace => {
                let open = self.bump();
                let body = self.body(open);
                return Some(Entry::Block(Block {
                    span: Span::new(start, body.span.end as usize),
                    docs,
                    kind: key,
                    name: None,
                    body,
                }));
            }
            TokenKind::Ident if !t.line_start && self.peek2().kind == TokenKind::LBrace => {
                self.bump();
                let name = self.ident(t);
                let open = self.bump();
                let body = self.body(open);
                return Some(Entry::Block(Block {
                    span: Span::new(start, body.span.end as usize),
                    docs,
                    kind: key,
                    name: Some(name),
                    body,
                }));
            }
            TokenKind::Ident
            | TokenKind::Str { .. }
            | TokenKind::Number(_)
            | TokenKind::LBracket
                if !t.line_start =>
            {
                self.unexpected(t, &format!("`:` after `{}`", key.text))
                    .help(format!("write `{}: value`", key.text));
                self.value(&key)
            }
            // `enum NAME { a, b, c }`: a name alone, ended by `,`, `}` or a new line. A
            // value has no docs: a `///` before it is a plain comment.
            TokenKind::Comma | TokenKind::RBrace if self.in_enum => {
                self.docs_as_comments(&docs);
                return Some(Entry::Bare(key));
            }
            _ if self.in_enum && t.line_start && Self::is_name(t) => {
                self.docs_as_comments(&docs);
                return Some(Entry::Bare(key));
            }
            _ => {
                self.unexpected(t, &format!("`:` or `{{` after `{}`", key.text))
                    .help("an entry looks like `key: value` or `kind name { ... }`");
                self.recover_in_body();
                return None;
            }
        };
        Some(Entry::Attr(Attr {
            span: Span::new(start, (value.span.end as usize).max(key_t.end)),
            docs,
            key,
            value,
        }))
    }

    /// The value of an attribute, then a check that the entry really ends there.
    fn value(&mut self, key: &Ident) -> Expr {
        let context = Context::AfterKey(&key.text);
        let before = self.pos;
        let value = self.expr(context);
        if self.pos == before {
            // Nothing was consumed: the error is reported, skip the rest of the entry.
            self.recover_in_body();
            return value;
        }
        let t = self.peek();
        let ends_entry = t.line_start
            || matches!(
                t.kind,
                TokenKind::Ident
                    | TokenKind::RBrace
                    | TokenKind::Comma
                    | TokenKind::Semi
                    | TokenKind::Eof
            );
        if !ends_entry {
            self.unexpected(t, &format!("a new entry after the value of `{}`", key.text))
                .help("separate attributes with a newline");
            self.recover_in_body();
        }
        value
    }

    // ---- expressions ----------------------------------------------------------------

    fn expr(&mut self, context: Context<'_>) -> Expr {
        let t = self.peek();
        match t.kind {
            TokenKind::Str { terminated } => {
                self.bump();
                let value = self.string_value(t, terminated);
                Expr {
                    kind: ExprKind::Str(value),
                    span: Span::new(t.start, t.end),
                }
            }
            TokenKind::Number(shape) => {
                self.bump();
                let lhs = self.number(t, shape);
                let numeric = matches!(
                    lhs.kind,
                    ExprKind::Number(_) | ExprKind::Unit { .. } | ExprKind::Percent(_)
                );
                if numeric && self.peek().kind == TokenKind::DotDot {
                    self.bump();
                    let t = self.peek();
                    let rhs = match t.kind {
                        TokenKind::Number(shape) => {
                            self.bump();
                            self.number(t, shape)
                        }
                        _ => {
                            self.unexpected(t, "a number after `..`")
                                .help("a range looks like `2..20`");
                            Expr {
                                kind: ExprKind::Error,
                                span: Span::new(t.start, t.start),
                            }
                        }
                    };
                    let span = lhs.span.cover(rhs.span);
                    return Expr {
                        kind: ExprKind::Range(Box::new(lhs), Box::new(rhs)),
                        span,
                    };
                }
                lhs
            }
            TokenKind::Ident => {
                self.bump();
                let path = self.path_from(t);
                match self.peek().kind {
                    TokenKind::LParen => self.call(path),
                    TokenKind::LBrace => {
                        let open = self.bump();
                        let body = self.body(open);
                        let span = path.span.cover(body.span);
                        Expr {
                            kind: ExprKind::Variant {
                                name: path,
                                body: Box::new(body),
                            },
                            span,
                        }
                    }
                    _ => Expr {
                        span: path.span,
                        kind: ExprKind::Path(path),
                    },
                }
            }
            TokenKind::LBracket => {
                let open = self.bump();
                let (items, end) = self.sequence(open, TokenKind::RBracket);
                Expr {
                    kind: items.map_or(ExprKind::Error, ExprKind::List),
                    span: Span::new(open.start, end),
                }
            }
            TokenKind::LBrace => {
                let open = self.bump();
                let body = self.body(open);
                Expr {
                    span: body.span,
                    kind: ExprKind::Record(body),
                }
            }
            _ => {
                let is_quote = t.kind == TokenKind::Unknown && self.text(t) == "'";
                let d = self.unexpected(t, &format!("a value {context}"));
                if t.kind == TokenKind::Eq || t.kind == TokenKind::Colon {
                    d.help("write `key: value`");
                } else if is_quote {
                    d.help("strings use double quotes: `\"...\"`");
                }
                Expr {
                    kind: ExprKind::Error,
                    span: Span::new(t.start, t.start),
                }
            }
        }
    }

    fn call(&mut self, callee: Path) -> Expr {
        let open = self.bump();
        let (args, end) = self.sequence(open, TokenKind::RParen);
        let span = Span::new(callee.span.start as usize, end);
        Expr {
            kind: args.map_or(ExprKind::Error, |args| ExprKind::Call {
                callee: Box::new(callee),
                args,
            }),
            span,
        }
    }

    /// Comma-separated values after `open` up to `close` (both consumed when present).
    /// `None` when the nesting was too deep to look inside.
    fn sequence(&mut self, open: Token, close: TokenKind) -> (Option<Vec<Expr>>, usize) {
        if self.depth >= MAX_DEPTH {
            return (None, self.too_deep(open));
        }
        self.depth += 1;
        let closer = if close == TokenKind::RBracket {
            "]"
        } else {
            ")"
        };
        let context = Context::Within(if close == TokenKind::RBracket {
            "in this list"
        } else {
            "in this call"
        });
        let mut items = Vec::new();
        let end = loop {
            let t = self.peek();
            match t.kind {
                k if k == close => {
                    self.bump();
                    break t.end;
                }
                TokenKind::Eof => {
                    self.report_unclosed(open, true);
                    break t.start;
                }
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen => {
                    self.report_unclosed(open, false);
                    break t.start;
                }
                TokenKind::Comma => {
                    self.garbage(t, &format!("a value {context}"))
                        .help("remove the extra `,`");
                    self.bump();
                }
                TokenKind::Ident if t.line_start && self.peek2().kind == TokenKind::Colon => {
                    // `key:` on a new line: the list was never closed.
                    self.report_unclosed(open, false);
                    break t.start;
                }
                _ => {
                    let before = self.pos;
                    let item = self.expr(context);
                    if self.pos == before {
                        self.recover_in_sequence();
                        if self.pos == before {
                            self.bump();
                        }
                    }
                    items.push(item);
                    let t = self.peek();
                    match t.kind {
                        TokenKind::Comma => {
                            self.bump();
                        }
                        k if k == close => {}
                        TokenKind::Eof
                        | TokenKind::RBrace
                        | TokenKind::RBracket
                        | TokenKind::RParen => {}
                        _ if t.line_start => {}
                        _ => {
                            self.unexpected(t, &format!("`,` or `{closer}`"))
                                .help("separate items with `,`");
                        }
                    }
                }
            }
        };
        self.depth -= 1;
        (Some(items), end)
    }

    /// Skip to the next `,` or closing bracket of the current list or call.
    fn recover_in_sequence(&mut self) {
        let mut level = 0usize;
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof => return,
                TokenKind::Comma | TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen
                    if level == 0 =>
                {
                    return;
                }
                TokenKind::LBrace | TokenKind::LBracket | TokenKind::LParen => level += 1,
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen => {
                    level = level.saturating_sub(1);
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// Report nesting beyond `MAX_DEPTH` and skip the group `open` starts, iteratively.
    /// Returns the end offset of the skipped group.
    fn too_deep(&mut self, open: Token) -> usize {
        self.error(
            codes::NESTING,
            Span::new(open.start, open.end),
            format!("nesting deeper than {MAX_DEPTH} levels"),
        )
        .with_label("too deeply nested")
        .help("flatten the structure; the inner part is not checked");
        let mut level = 1usize;
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof => return t.start,
                TokenKind::LBrace | TokenKind::LBracket | TokenKind::LParen => level += 1,
                TokenKind::RBrace | TokenKind::RBracket | TokenKind::RParen => {
                    level -= 1;
                    if level == 0 {
                        self.bump();
                        return t.end;
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }

    // ---- literals -------------------------------------------------------------------

    fn number(&mut self, t: Token, shape: NumShape) -> Expr {
        let text = self.text(t);
        let span = Span::new(t.start, t.end);
        let kind = match shape {
            NumShape::Plain => ExprKind::Number(Name::new(text)),
            NumShape::Unit { number_end } => {
                let (number, suffix) = text.split_at_checked(number_end).unwrap_or((text, ""));
                ExprKind::Unit {
                    number: Name::new(number),
                    suffix: Name::new(suffix),
                }
            }
            NumShape::Percent => {
                ExprKind::Percent(Name::new(text.strip_suffix('%').unwrap_or(text)))
            }
            NumShape::Date => match self.date(text, span) {
                Some((year, month, day)) => ExprKind::Date { year, month, day },
                None => ExprKind::Error,
            },
            NumShape::Malformed | NumShape::IdentLike => {
                let help = if text.contains('_') && text.bytes().any(|b| b.is_ascii_alphabetic()) {
                    "names cannot start with a digit; numbers have no `_` separators"
                } else if text.contains('_') {
                    "numbers have no `_` separators; write the digits together"
                } else {
                    "write a number like `42`, `0.92`, a unit like `5m` or a percent like `99.9%`"
                };
                self.error(codes::NUMBER, span, format!("malformed number `{text}`"))
                    .help(help);
                ExprKind::Error
            }
        };
        Expr { kind, span }
    }

    fn date(&mut self, text: &str, span: Span) -> Option<(u16, u8, u8)> {
        let mut parts = text.split('-');
        fn shape_ok(p: Option<&str>, len: usize) -> Option<&str> {
            p.filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
        }
        let year = shape_ok(parts.next(), 4);
        let month = shape_ok(parts.next(), 2);
        let day = shape_ok(parts.next(), 2);
        let (Some(year), Some(month), Some(day), None) = (year, month, day, parts.next()) else {
            self.error(codes::NUMBER, span, format!("malformed date `{text}`"))
                .help("write dates as `YYYY-MM-DD`, e.g. `2027-03-31`");
            return None;
        };
        let (y, m, d) = (
            year.parse::<u16>().ok()?,
            month.parse::<u8>().ok()?,
            day.parse::<u8>().ok()?,
        );
        if !(1..=12).contains(&m) {
            self.error(
                codes::NUMBER,
                span,
                format!("invalid date `{text}`: there is no month `{month}`"),
            )
            .help("months run from `01` to `12`");
            return None;
        }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if d == 0 || d > days {
            self.error(
                codes::NUMBER,
                span,
                format!("invalid date `{text}`: month `{month}` of {y} has no day `{day}`"),
            )
            .help(format!("days in this month run from `01` to `{days}`"));
            return None;
        }
        Some((y, m, d))
    }

    /// The decoded value of a string token, reporting bad escapes one by one.
    fn string_value(&mut self, t: Token, terminated: bool) -> String {
        let inner_end = if terminated { t.end - 1 } else { t.end };
        let raw = self.slice(t.start + 1, inner_end);
        if !terminated {
            self.error(
                codes::UNCLOSED,
                Span::new(t.start, t.start + 1),
                "unclosed string",
            )
            .with_label("this string is never closed")
            .help("a string ends on the line it starts; add the closing `\"`");
        }
        if !raw.contains('\\') {
            return raw.to_string();
        }
        let base = t.start + 1;
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.find('\\') {
            out.push_str(rest.get(..i).unwrap_or(""));
            let esc_start = base + (raw.len() - rest.len()) + i;
            let after = rest.get(i + 1..).unwrap_or("");
            let Some(c) = after.chars().next() else {
                rest = "";
                break;
            };
            let after_c = after.get(c.len_utf8()..).unwrap_or("");
            rest = after_c;
            match c {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => match lexer::unicode_escape(after_c) {
                    Ok((r, hex)) => {
                        rest = r;
                        let value = (1..=6)
                            .contains(&hex.len())
                            .then(|| u32::from_str_radix(hex, 16).ok())
                            .flatten()
                            .and_then(char::from_u32);
                        let end = base + (raw.len() - r.len());
                        match value {
                            Some(v) => out.push(v),
                            None => {
                                self.error(
                                    codes::STRING,
                                    Span::new(esc_start, end),
                                    format!("invalid unicode escape `\\u{{{hex}}}`"),
                                )
                                .help("write 1 to 6 hex digits of a Unicode scalar value, e.g. `\\u{e9}`");
                            }
                        }
                    }
                    Err(_) => {
                        self.error(
                            codes::STRING,
                            Span::new(esc_start, esc_start + 2),
                            "invalid unicode escape `\\u`",
                        )
                        .help("write the code point in braces, e.g. `\\u{e9}`");
                    }
                },
                other => {
                    out.push(other);
                    self.error(
                        codes::STRING,
                        Span::new(esc_start, esc_start + 1 + other.len_utf8()),
                        format!("unknown escape `\\{other}`"),
                    )
                    .help("valid escapes are `\\\"`, `\\\\`, `\\n`, `\\t` and `\\u{...}`");
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Adds label and help to the diagnostic just pushed.
struct DiagBuilder<'d> {
    diagnostics: &'d mut Vec<Diagnostic>,
}

impl DiagBuilder<'_> {
    fn with_label(self, label: impl Into<String>) -> Self {
        if let Some(d) = self.diagnostics.last_mut() {
            d.label = Some(label.into());
        }
        self
    }

    fn help(self, help: impl Into<String>) {
        if let Some(d) = self.diagnostics.last_mut() {
            d.help = Some(help.into());
        }
    }
}

/// `MyService` -> `my_service`, `FraudAPI` -> `fraud_api`: the name we suggest.
pub(crate) fn snake_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut prev_lower = false;
    for c in text.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}
