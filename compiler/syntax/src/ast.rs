//! The syntax tree. Every node keeps its byte span; doc comments are attached to the
//! node they document, plain comments are kept in `SourceFile::comments` for `fmt`.
//!
//! Literals keep their source text (`Number::text`) so values are exact: `99.95%` is
//! never a float until a later phase decides how to read it.

use crate::Span;

/// Identifiers and literal texts: at most 23 bytes are stored inline, so the
/// million-odd names of a 5,000-service workspace cost no allocation each (the trees
/// stay in memory for incremental checking); longer ones are shared, so clones are cheap.
pub use smol_str::SmolStr as Name;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SourceFile {
    pub items: Vec<Item>,
    /// Every `//` and `/* */` comment (not `///` docs), in source order.
    pub comments: Vec<Comment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Comment {
    pub span: Span,
    /// The full comment text including `//` or `/* */`.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    Use(Use),
    Decl(Decl),
}

/// `use std.profiles as p`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Use {
    pub path: Path,
    pub alias: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    pub text: Name,
    pub span: Span,
}

/// `a.b.c`, at least one segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

impl Path {
    /// `a.b.c` as written.
    pub fn dotted(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(&s.text);
        }
        out
    }
}

/// One `///` line, without the slashes and one leading space.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Doc {
    pub text: String,
    pub span: Span,
}

/// `/// docs`
/// `kind name (for target_kind)? (extends a, b)? { body }`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decl {
    pub docs: Vec<Doc>,
    pub kind: Ident,
    pub name: Ident,
    /// `profile NAME for KIND`: the kind the profile applies to.
    pub for_kind: Option<Ident>,
    pub extends: Vec<Path>,
    pub body: Body,
    pub span: Span,
}

/// `{ entries }`; the span includes the braces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Body {
    pub entries: Vec<Entry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Entry {
    Attr(Attr),
    Block(Block),
    /// A bare name: the values of `enum classification { public, internal }`. The
    /// parser accepts one only where a `,`, `}` or a new line follows it.
    Bare(Ident),
}

impl Entry {
    pub fn key(&self) -> &Ident {
        match self {
            Entry::Attr(a) => &a.key,
            Entry::Block(b) => &b.kind,
            Entry::Bare(i) => i,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Entry::Attr(a) => a.span,
            Entry::Block(b) => b.span,
            Entry::Bare(i) => i.span,
        }
    }
}

/// `key: value`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attr {
    /// A boxed slice: usually empty, and every entry of every tree carries one.
    pub docs: Box<[Doc]>,
    pub key: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `kind name? { body }`, e.g. `slo latency { ... }`, `training { ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    pub docs: Box<[Doc]>,
    pub kind: Ident,
    pub name: Option<Ident>,
    pub body: Body,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExprKind {
    /// The decoded string value (escapes resolved).
    Str(String),
    /// `42`, `-1`, `0.92`: the literal text.
    Number(Name),
    /// A number glued to a suffix: `5m`, `4Gi`, `500m`, `4GB`. Read by the expected type.
    Unit {
        number: Name,
        suffix: Name,
    },
    /// `99.9%`: the number's text.
    Percent(Name),
    /// `2027-03-31`
    Date {
        year: u16,
        month: u8,
        day: u8,
    },
    /// `2..20` (inclusive)
    Range(Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    /// `production`, `card_velocity.amount_sum_24h`, `true`, `false`.
    Path(Path),
    /// `count(txn_id)`. Calls and variants are rare and their parts boxed, so they do
    /// not set the size of every expression.
    Call {
        callee: Box<Path>,
        args: Vec<Expr>,
    },
    /// `canary { steps: [10%, 50%] }`: a named variant with a body.
    Variant {
        name: Path,
        body: Box<Body>,
    },
    /// `{ body }`
    Record(Body),
    /// Placeholder after a syntax error, so later phases can skip it silently.
    Error,
}
