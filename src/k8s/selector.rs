//! Kubernetes label and field selectors: parsing and matching.
//!
//! One parser serves the simulated API server (`labelSelector`, `fieldSelector` query
//! parameters) and podwall's own `label=` filter, so both accept exactly the grammar of
//! `k8s.io/apimachinery/pkg/labels` (`selector.go`): comma-separated requirements of the
//! forms `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`.

use std::fmt;

/// Why a selector string was rejected; the message is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(String);

/// The operator of one label requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value` (also true when the key is absent).
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)` (also true when the key is absent).
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key, validated as a Kubernetes qualified name.
    pub key: String,
    /// How the value is compared.
    pub op: Op,
    /// The values compared against (one for `=`/`!=`, none for exists).
    pub values: Vec<String>,
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        match (self.op, value) {
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::Equals | Op::In, Some(v)) => self.values.iter().any(|x| x == v),
            (Op::Equals | Op::In, None) => false,
            (Op::NotEquals | Op::NotIn, Some(v)) => !self.values.iter().any(|x| x == v),
            (Op::NotEquals | Op::NotIn, None) => true,
        }
    }
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the Kubernetes label selector syntax.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut lexer = Lexer::new(input);
        let mut requirements = Vec::new();
        if lexer.peek() == Token::End {
            return Ok(Self { requirements });
        }
        loop {
            requirements.push(parse_requirement(&mut lexer)?);
            match lexer.next() {
                Token::Comma => continue,
                Token::End => break,
                other => {
                    return Err(SelectorError(format!(
                        "invalid label selector {input:?}: expected ',' or end, found {other}"
                    )));
                }
            }
        }
        Ok(Self { requirements })
    }

    /// True when no requirement is present.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, in the order written.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether a set of labels, given as a lookup function, satisfies every requirement.
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| r.matches(get(&r.key)))
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn parse_requirement(lexer: &mut Lexer<'_>) -> Result<Requirement, SelectorError> {
    let input = lexer.input;
    let err = |what: String| SelectorError(format!("invalid label selector {input:?}: {what}"));
    let negated = if lexer.peek() == Token::Not {
        lexer.next();
        true
    } else {
        false
    };
    let key = match lexer.next() {
        Token::Word(w) => w.to_string(),
        other => return Err(err(format!("expected a label key, found {other}"))),
    };
    validate_key(&key).map_err(|e| err(format!("key {key:?}: {e}")))?;
    if negated {
        return Ok(Requirement {
            key,
            op: Op::DoesNotExist,
            values: Vec::new(),
        });
    }
    let op = match lexer.peek() {
        Token::Comma | Token::End => {
            return Ok(Requirement {
                key,
                op: Op::Exists,
                values: Vec::new(),
            });
        }
        Token::Equals | Token::DoubleEquals => Op::Equals,
        Token::NotEquals => Op::NotEquals,
        Token::Word("in") => Op::In,
        Token::Word("notin") => Op::NotIn,
        other => {
            return Err(err(format!(
                "expected an operator after {key:?}, found {other}"
            )));
        }
    };
    lexer.next();
    let values = match op {
        Op::In | Op::NotIn => parse_value_set(lexer).map_err(err)?,
        _ => match lexer.peek() {
            Token::Word(w) => {
                lexer.next();
                vec![w.to_string()]
            }
            // `key=` selects the empty value, as in apimachinery.
            Token::Comma | Token::End => vec![String::new()],
            other => return Err(err(format!("expected a value for {key:?}, found {other}"))),
        },
    };
    for v in &values {
        validate_value(v).map_err(|e| err(format!("value {v:?}: {e}")))?;
    }
    Ok(Requirement { key, op, values })
}

fn parse_value_set(lexer: &mut Lexer<'_>) -> Result<Vec<String>, String> {
    if lexer.next() != Token::OpenParen {
        return Err("expected '(' after in/notin".into());
    }
    let mut values = Vec::new();
    loop {
        match lexer.next() {
            Token::Word(w) => values.push(w.to_string()),
            // An empty element, as in `in (a,,b)` or `in ()`, is the empty value.
            Token::Comma => {
                values.push(String::new());
                continue;
            }
            Token::CloseParen => {
                values.push(String::new());
                return Ok(values);
            }
            other => return Err(format!("expected a value in the set, found {other}")),
        }
        match lexer.next() {
            Token::Comma => continue,
            Token::CloseParen => return Ok(values),
            other => return Err(format!("expected ',' or ')' in the set, found {other}")),
        }
    }
}

/// Validates a label key: an optional DNS-1123 subdomain prefix and `/`, then a name of
/// at most 63 characters of alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        validate_dns_subdomain(prefix).map_err(|e| format!("prefix {e}"))?;
    }
    validate_name_part(name)
}

/// Validates a label value: empty, or at most 63 characters like a key's name part.
pub fn validate_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    validate_name_part(value)
}

fn validate_name_part(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Err("must be no more than 63 characters".into());
    }
    let ok_inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let bytes = name.as_bytes();
    if !bytes[0].is_ascii_alphanumeric()
        || !bytes[bytes.len() - 1].is_ascii_alphanumeric()
        || !name.chars().all(ok_inner)
    {
        return Err("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".into());
    }
    Ok(())
}

/// Validates a DNS-1123 subdomain (lowercase, at most 253 characters).
pub fn validate_dns_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err("must be a non-empty DNS-1123 subdomain of at most 253 characters".into());
    }
    for label in s.split('.') {
        validate_dns_label(label).map_err(|_| {
            "must be a lowercase RFC 1123 subdomain: lowercase alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character".to_string()
        })?;
    }
    Ok(())
}

/// Validates a DNS-1123 label (lowercase alphanumerics and `-`, at most 63 characters).
pub fn validate_dns_label(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty()
        || b.len() > 63
        || !alnum(&b[0])
        || !alnum(&b[b.len() - 1])
        || !b.iter().all(|c| alnum(c) || *c == b'-')
    {
        return Err("must be a lowercase RFC 1123 label: at most 63 lowercase alphanumeric characters or '-', starting and ending with an alphanumeric character".into());
    }
    Ok(())
}

/// A parsed field selector: `key=value`, `key==value`, `key!=value`, comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// True for `=`/`==`, false for `!=`.
    pub equals: bool,
    /// The compared value (may be empty).
    pub value: String,
}

impl FieldSelector {
    /// Parses a field selector, as apimachinery's `fields.ParseSelector` does.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        if input.trim().is_empty() {
            return Ok(Self { terms });
        }
        for part in split_unescaped_commas(input) {
            let (field, equals, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(SelectorError(format!(
                    "invalid field selector {input:?}: {part:?} is not of the form field=value, field==value or field!=value"
                )));
            };
            let field = field.trim();
            if field.is_empty() {
                return Err(SelectorError(format!(
                    "invalid field selector {input:?}: empty field name"
                )));
            }
            terms.push(FieldTerm {
                field: field.to_string(),
                equals,
                value: unescape_field_value(value.trim()),
            });
        }
        Ok(Self { terms })
    }

    /// True when no term is present.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, in the order written.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// Whether an object's fields, given as a lookup, satisfy every term. A field the
    /// lookup does not know reads as the empty string.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let v = get(&t.field).unwrap_or_default();
            (v == t.value) == t.equals
        })
    }
}

fn split_unescaped_commas(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unescape_field_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    Comma,
    OpenParen,
    CloseParen,
    Invalid(char),
    End,
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "{w:?}"),
            Token::Not => f.write_str("'!'"),
            Token::Equals => f.write_str("'='"),
            Token::DoubleEquals => f.write_str("'=='"),
            Token::NotEquals => f.write_str("'!='"),
            Token::Comma => f.write_str("','"),
            Token::OpenParen => f.write_str("'('"),
            Token::CloseParen => f.write_str("')'"),
            Token::Invalid(c) => write!(f, "invalid character {c:?}"),
            Token::End => f.write_str("end of input"),
        }
    }
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Self { input, pos: 0 }
    }

    fn peek(&self) -> Token<'a> {
        self.scan().0
    }

    fn next(&mut self) -> Token<'a> {
        let (tok, end) = self.scan();
        self.pos = end;
        tok
    }

    fn scan(&self) -> (Token<'a>, usize) {
        let rest = &self.input[self.pos..];
        let trimmed = rest.trim_start();
        let start = self.pos + (rest.len() - trimmed.len());
        let mut chars = trimmed.chars();
        let Some(c) = chars.next() else {
            return (Token::End, start);
        };
        let two = trimmed.get(..2);
        match (c, two) {
            (_, Some("==")) => (Token::DoubleEquals, start + 2),
            (_, Some("!=")) => (Token::NotEquals, start + 2),
            ('=', _) => (Token::Equals, start + 1),
            ('!', _) => (Token::Not, start + 1),
            (',', _) => (Token::Comma, start + 1),
            ('(', _) => (Token::OpenParen, start + 1),
            (')', _) => (Token::CloseParen, start + 1),
            _ if is_word_char(c) => {
                let len = trimmed
                    .find(|ch: char| !is_word_char(ch))
                    .unwrap_or(trimmed.len());
                (Token::Word(&trimmed[..len]), start + len)
            }
            _ => (Token::Invalid(c), start + c.len_utf8()),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel_matches(sel: &str, l: &BTreeMap<String, String>) -> bool {
        LabelSelector::parse(sel)
            .unwrap()
            .matches(|k| l.get(k).map(String::as_str))
    }

    #[test]
    fn parses_every_operator() {
        let s = LabelSelector::parse(
            "app=web, tier!=db,env in (prod, staging),x notin (a),has,!gone,b==c",
        )
        .unwrap();
        let ops: Vec<Op> = s.requirements().iter().map(|r| r.op).collect();
        assert_eq!(
            ops,
            [
                Op::Equals,
                Op::NotEquals,
                Op::In,
                Op::NotIn,
                Op::Exists,
                Op::DoesNotExist,
                Op::Equals
            ]
        );
        assert_eq!(s.requirements()[2].values, ["prod", "staging"]);
    }

    #[test]
    fn matching_follows_apimachinery() {
        let l = labels(&[
            ("app", "web"),
            ("env", "prod"),
            ("app.kubernetes.io/name", "x"),
        ]);
        assert!(sel_matches("app=web", &l));
        assert!(sel_matches("app==web,env in (prod,dev)", &l));
        assert!(!sel_matches("app!=web", &l));
        assert!(sel_matches("tier!=db", &l), "!= matches an absent key");
        assert!(
            sel_matches("tier notin (db)", &l),
            "notin matches an absent key"
        );
        assert!(!sel_matches("tier in (db)", &l));
        assert!(sel_matches("app", &l));
        assert!(!sel_matches("!app", &l));
        assert!(sel_matches("!tier", &l));
        assert!(sel_matches("app.kubernetes.io/name=x", &l));
        assert!(sel_matches("", &l));
    }

    #[test]
    fn rejects_malformed_selectors_with_a_reason() {
        for bad in [
            "app=",
            "=web",
            "app=web,",
            "app in web",
            "app in (a",
            "a b",
            "app=<script>",
            "-a=b",
            "a=b)",
            "!",
            "app=web=x",
        ] {
            let r = LabelSelector::parse(bad);
            if bad == "app=" {
                assert!(r.is_ok(), "app= selects the empty value");
                continue;
            }
            let e = r.expect_err(bad);
            assert!(
                e.to_string().contains("invalid label selector"),
                "{bad}: {e}"
            );
        }
        let long = format!("k={}", "a".repeat(64));
        assert!(LabelSelector::parse(&long).is_err());
    }

    #[test]
    fn field_selectors() {
        let f = FieldSelector::parse("spec.nodeName=node-1,status.phase!=Running").unwrap();
        let get = |field: &str| match field {
            "spec.nodeName" => Some("node-1".to_string()),
            "status.phase" => Some("Pending".to_string()),
            _ => None,
        };
        assert!(f.matches(get));
        let g = FieldSelector::parse("spec.nodeName=").unwrap();
        assert!(
            g.matches(|_| None),
            "unscheduled pods have an empty nodeName"
        );
        assert!(FieldSelector::parse("spec.nodeName").is_err());
        assert!(FieldSelector::parse("=x").is_err());
    }
}
