//! The checked spec: each declaration's body read against its kind table into typed
//! values, with spans kept. Lowering turns this into the IR per environment; the
//! semantic diff and hover read it directly.

use plinth_ir::model::FieldSpansBuilder;
use plinth_ir::{Bytes, Date, Decimal, Duration, FeatureRef, FieldSpans, Millicores};
use plinth_syntax::Span;

/// Strings, enum values, references and columns are mostly short names: a `SmolStr`
/// keeps up to 23 bytes inline (no allocation), derefs to `str` and compares with
/// `&str` and `String` as a `String` does.
pub type Text = plinth_syntax::ast::Name;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(Text),
    Bool(bool),
    Int(i64),
    Number(Decimal),
    Duration(Duration),
    Bytes(Bytes),
    Cpu(Millicores),
    Percent(Decimal),
    Date(Date),
    /// A cron expression and its largest gap between runs.
    Cron {
        expr: Text,
        interval: Duration,
    },
    Enum(Text),
    /// A declaration name (std profiles as `std.name`).
    Ref(Text),
    FeatureRef(FeatureRef),
    Column(Text),
    Aggregate {
        function: Text,
        column: Text,
    },
    List(Vec<Spanned<Value>>),
    Range(i64, i64),
    Variant {
        name: Text,
        /// Boxed: most values are small, and the largest variant sets every value's size.
        body: Option<Box<Rec>>,
    },
}

impl Value {
    /// The value as it would be written in Plinth, for diffs and messages.
    pub fn render(&self) -> String {
        match self {
            Value::Str(s) => format!("{s:?}"),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Number(d) => d.to_string(),
            Value::Duration(d) => d.to_string(),
            Value::Bytes(b) => b.to_string(),
            Value::Cpu(c) => c.to_string(),
            Value::Percent(p) => format!("{p}%"),
            Value::Date(d) => d.to_string(),
            Value::Cron { expr, .. } => format!("{expr:?}"),
            Value::Enum(s) | Value::Ref(s) | Value::Column(s) => s.to_string(),
            Value::FeatureRef(f) => f.to_string(),
            Value::Aggregate { function, column } => format!("{function}({column})"),
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(|v| v.value.render()).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Range(a, b) => format!("{a}..{b}"),
            Value::Variant { name, body: None } => name.to_string(),
            Value::Variant {
                name,
                body: Some(rec),
            } => format!("{name} {}", rec.render()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// The order of `str`, compared a byte at a time in line: field names are short and
/// most differ in their first byte, and the name found is compared to its end, where
/// a call to `memcmp` cost more than the comparison (lookups are a large part of
/// checking and lowering).
fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    for (x, y) in a.bytes().zip(b.bytes()) {
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

/// A small map from field name to field, kept as a vector sorted by name: a body has a
/// handful of fields, and a `BTreeMap` node per body cost more memory than the values.
/// Names are the kind tables' own (`&'static`), so no field allocates its name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldMap(Vec<(&'static str, Field)>);

impl FieldMap {
    /// Room for `n` fields: a body's entry count bounds its fields, and growing the
    /// vector one field at a time was a good part of checking's allocations.
    pub fn with_capacity(n: usize) -> Self {
        FieldMap(Vec::with_capacity(n))
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| name_order(k, key))
    }

    pub fn get(&self, key: &str) -> Option<&Field> {
        self.position(key)
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, f)| f)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Field> {
        let i = self.position(key).ok()?;
        self.0.get_mut(i).map(|(_, f)| f)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Inserts or replaces.
    pub fn insert(&mut self, key: &'static str, field: Field) {
        match self.position(key) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = field;
                }
            }
            Err(i) => self.0.insert(i, (key, field)),
        }
    }

    /// The field under `key`, inserted by `make` first when missing.
    pub fn get_or_insert_with(
        &mut self,
        key: &'static str,
        make: impl FnOnce() -> Field,
    ) -> &mut Field {
        let i = match self.position(key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, make()));
                i
            }
        };
        #[allow(clippy::indexing_slicing)] // INVARIANT: `i` was found or just inserted
        &mut self.0[i].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Field)> {
        self.0.iter().map(|(k, f)| (*k, f))
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Drops spare capacity once a body is read: checked records live as long as the
    /// database.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl FromIterator<(&'static str, Field)> for FieldMap {
    fn from_iter<I: IntoIterator<Item = (&'static str, Field)>>(iter: I) -> Self {
        let mut items: Vec<(&'static str, Field)> = iter.into_iter().collect();
        items.sort_by(|a, b| a.0.cmp(b.0));
        items.dedup_by(|a, b| a.0 == b.0);
        FieldMap(items)
    }
}

impl<'a> IntoIterator for &'a FieldMap {
    type Item = (&'static str, &'a Field);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (&'static str, Field)>,
        fn(&'a (&'static str, Field)) -> (&'static str, &'a Field),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, f)| (*k, f))
    }
}

/// A checked body: fields by name. Named blocks keep their names in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rec {
    pub fields: FieldMap,
    /// Fields that were written but had errors (or misspelt, by their suggestion), so
    /// they are not reported missing as well: one mistake, one diagnostic.
    pub errored: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Value(Spanned<Value>),
    Block(Spanned<Rec>),
    /// `column NAME { }`, `slo KIND { }`, `env NAME { }`. The names are mostly short
    /// (`Text` keeps them inline): a string each was a good part of the allocations
    /// the front end makes and frees.
    Named(Vec<(Text, Spanned<Rec>)>),
}

impl Rec {
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.fields.get(name) {
            Some(Field::Value(v)) => Some(&v.value),
            _ => None,
        }
    }

    pub fn block(&self, name: &str) -> Option<&Rec> {
        match self.fields.get(name) {
            Some(Field::Block(b)) => Some(&b.value),
            _ => None,
        }
    }

    pub fn named(&self, name: &str) -> &[(Text, Spanned<Rec>)] {
        match self.fields.get(name) {
            Some(Field::Named(items)) => items,
            _ => &[],
        }
    }

    pub fn span_of(&self, name: &str) -> Option<Span> {
        match self.fields.get(name)? {
            Field::Value(v) => Some(v.span),
            Field::Block(b) => Some(b.span),
            Field::Named(items) => items.first().map(|(_, b)| b.span),
        }
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Value::Str(s) | Value::Enum(s) | Value::Ref(s) | Value::Column(s)) => Some(s),
            _ => None,
        }
    }

    /// Every field path (`resources.gpu`) with its span, for `Origin::fields`.
    pub fn field_spans(&self) -> FieldSpans {
        let mut out = FieldSpansBuilder::default();
        self.collect_field_spans(&mut String::new(), &mut out);
        out.finish()
    }

    /// Adds the spans under `path` (the fields' prefix, reused as the buffer each
    /// path is built in, so no path is allocated on its own).
    fn collect_field_spans(&self, path: &mut String, out: &mut FieldSpansBuilder) {
        for (name, field) in &self.fields {
            let prefix = path.len();
            if prefix > 0 {
                path.push('.');
            }
            path.push_str(name);
            match field {
                Field::Value(v) => {
                    out.set(path, v.span);
                }
                Field::Block(b) => {
                    out.set(path, b.span);
                    b.value.collect_field_spans(path, out);
                }
                Field::Named(items) => {
                    let base = path.len();
                    for (n, b) in items {
                        path.push('.');
                        path.push_str(n);
                        out.set(path, b.span);
                        b.value.collect_field_spans(path, out);
                        path.truncate(base);
                    }
                    if let Some((_, first)) = items.first() {
                        out.insert_if_absent(path, first.span);
                    }
                }
            }
            path.truncate(prefix);
        }
    }

    /// Compact one-line rendering, for diffs.
    pub fn render(&self) -> String {
        let mut parts = Vec::new();
        for (name, field) in &self.fields {
            match field {
                Field::Value(v) => parts.push(format!("{name}: {}", v.value.render())),
                Field::Block(b) => parts.push(format!("{name} {}", b.value.render())),
                Field::Named(items) => {
                    for (n, b) in items {
                        parts.push(format!("{name} {n} {}", b.value.render()));
                    }
                }
            }
        }
        format!("{{ {} }}", parts.join(", "))
    }
}

/// A checked declaration. Profiles named in `extends` are already merged into `body`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decl {
    pub kind: String,
    /// The declared name; stdlib declarations are `std.name`.
    pub name: String,
    pub doc: String,
    pub file: String,
    pub span: Span,
    pub name_span: Span,
    /// `extends` targets, resolved, transitively, in order.
    pub profiles: Vec<String>,
    /// For profiles: the kind they apply to.
    pub for_kind: Option<String>,
    pub body: Rec,
}

#[cfg(test)]
mod tests {
    use super::name_order;

    #[test]
    fn name_order_is_the_order_of_str() {
        let names = [
            "",
            "a",
            "ab",
            "abc",
            "b",
            "ba",
            "env",
            "environments",
            "é",
            "z",
            "Z",
            "_x",
            "x_",
        ];
        for a in names {
            for b in names {
                assert_eq!(name_order(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
