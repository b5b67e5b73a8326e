//! The condition language of monitors, compatible with Gatus: `[STATUS] == 200`,
//! `[BODY].data[0].id == 42`, `len([BODY].items) < 5`, `[CERTIFICATE_EXPIRATION] > 168h`.
//!
//! Pure: parsing produces an AST that is stored and printed back in canonical form, and
//! evaluation reads an [`Observation`] that a probe filled in. A condition has one comparison:
//! `LEFT OP RIGHT`, where each side is a placeholder (`[STATUS]`), a function (`len`, `has`,
//! `pat`, `any`) or a literal value written as-is (`200`, `UP`, `48h`, `true`).

use std::cell::OnceCell;
use std::fmt;
use std::net::IpAddr;

use crate::monitor::{MonitorKind, format_duration, parse_duration};

/// A value a probe observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `[STATUS]`: the HTTP status code.
    Status,
    /// `[RESPONSE_TIME]`: milliseconds from the start of the probe to the answer.
    ResponseTime,
    /// `[BODY]`: the response body (HTTP) or the answers, one a line (DNS); JSON paths allowed.
    Body,
    /// `[IP]`: the address connected to (or the first address answer, for DNS).
    Ip,
    /// `[CONNECTED]`: whether a connection was made.
    Connected,
    /// `[DNS_RCODE]`: the DNS response code, such as `NOERROR` or `NXDOMAIN`.
    DnsRcode,
    /// `[CERTIFICATE_EXPIRATION]`: time left until the server certificate's notAfter.
    CertificateExpiration,
}

impl Placeholder {
    /// Every placeholder, in the order error messages list them.
    pub const ALL: [Placeholder; 7] = [
        Placeholder::Status,
        Placeholder::ResponseTime,
        Placeholder::Body,
        Placeholder::Ip,
        Placeholder::Connected,
        Placeholder::DnsRcode,
        Placeholder::CertificateExpiration,
    ];

    /// The name between the brackets.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Status => "STATUS",
            Placeholder::ResponseTime => "RESPONSE_TIME",
            Placeholder::Body => "BODY",
            Placeholder::Ip => "IP",
            Placeholder::Connected => "CONNECTED",
            Placeholder::DnsRcode => "DNS_RCODE",
            Placeholder::CertificateExpiration => "CERTIFICATE_EXPIRATION",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether a monitor of this kind can fill the placeholder in.
    pub fn provided_by(self, kind: MonitorKind) -> bool {
        use Placeholder as P;
        match kind {
            MonitorKind::Http => !matches!(self, P::DnsRcode),
            MonitorKind::Tcp => matches!(self, P::ResponseTime | P::Ip | P::Connected),
            MonitorKind::Dns => matches!(self, P::ResponseTime | P::Body | P::Ip | P::DnsRcode),
            MonitorKind::Tls => matches!(
                self,
                P::ResponseTime | P::Ip | P::Connected | P::CertificateExpiration
            ),
            MonitorKind::Heartbeat => false,
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.name())
    }
}

/// One step of a JSON path into `[BODY]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// `.key`
    Key(String),
    /// `[index]`
    Index(usize),
}

/// A placeholder with an optional JSON path (`[BODY].data[0].id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The placeholder.
    pub placeholder: Placeholder,
    /// The JSON path; only `[BODY]` takes one.
    pub path: Vec<PathStep>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.placeholder)?;
        for step in &self.path {
            match step {
                PathStep::Key(k) => write!(f, ".{k}")?,
                PathStep::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A placeholder, possibly with a JSON path.
    Ref(Reference),
    /// `len(...)`: length of an array, object or string (or of the raw body).
    Len(Reference),
    /// `has(...)`: whether the value exists.
    Has(Reference),
    /// `pat(...)`: a glob where `*` matches any run of characters; only with `==` and `!=`.
    Pat(String),
    /// `any(a, b, ...)`: equal to one of the values; only with `==` and `!=`.
    Any(Vec<String>),
    /// A value written as-is: a number, a duration (`48h`), `true`/`false`, or text.
    Literal(String),
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Ref(r) => write!(f, "{r}"),
            Operand::Len(r) => write!(f, "len({r})"),
            Operand::Has(r) => write!(f, "has({r})"),
            Operand::Pat(p) => write!(f, "pat({p})"),
            Operand::Any(items) => write!(f, "any({})", items.join(", ")),
            Operand::Literal(s) => f.write_str(s),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    /// Every comparator.
    pub const ALL: [Comparator; 6] = [
        Comparator::Eq,
        Comparator::Ne,
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ];

    /// Its text.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Eq => "==",
            Comparator::Ne => "!=",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    fn is_ordering(self) -> bool {
        !matches!(self, Comparator::Eq | Comparator::Ne)
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed condition: `left op right`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    /// The left-hand side.
    pub left: Operand,
    /// The operator.
    pub op: Comparator,
    /// The right-hand side.
    pub right: Operand,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.op, self.right)
    }
}

/// Why a condition was refused, and where (1-based column, counted in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct ConditionError {
    /// What is wrong and what is expected.
    pub message: String,
    /// 1-based column in the condition text.
    pub column: usize,
}

impl ConditionError {
    fn new(column: usize, message: impl Into<String>) -> Self {
        ConditionError {
            message: message.into(),
            column,
        }
    }
}

/// What a probe observed; placeholders read from here. `None` means the probe could not tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// HTTP status code.
    pub status: Option<u16>,
    /// Milliseconds from the start of the probe to the answer.
    pub response_time_ms: u64,
    /// The response body (possibly a truncated prefix); parsed as JSON only when a path asks.
    pub body: Option<Vec<u8>>,
    /// The address connected to.
    pub ip: Option<IpAddr>,
    /// Whether a connection was made.
    pub connected: Option<bool>,
    /// DNS response code name (`NOERROR`, `NXDOMAIN`, ...).
    pub dns_rcode: Option<String>,
    /// Milliseconds until the certificate's notAfter (negative once expired).
    pub certificate_expiration_ms: Option<i64>,
    /// DNS answers rendered as text (`93.184.216.34`, `10 mail.example.com.`).
    pub dns_answers: Vec<String>,
}

/// The verdict on one condition, with the values that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionResult {
    /// Whether the condition held.
    pub passed: bool,
    /// The condition with its resolved values, e.g. `[STATUS] (503) == any(200, 429)`.
    pub detail: String,
}

/// The DNS response codes `[DNS_RCODE]` may be compared with.
pub const DNS_RCODES: [&str; 11] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",
];

const FUNCTIONS: &str = "len(), has(), pat(), any()";

fn known_placeholders() -> String {
    Placeholder::ALL
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Condition {
    /// Parses one condition. Errors name the problem and its column.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let chars: Vec<char> = text.chars().collect();
        let (op_at, op) = find_operator(&chars)?;
        let op_len = op.as_str().chars().count();
        let left = parse_operand(&chars, 0, op_at, Side::Left)?;
        let right = parse_operand(&chars, op_at + op_len, chars.len(), Side::Right)?;
        let condition = Condition { left, op, right };
        condition.type_check(&chars, op_at)?;
        Ok(condition)
    }

    /// Refuses placeholders that a monitor of `kind` cannot provide (`[STATUS]` on tcp).
    pub fn check_kind(&self, kind: MonitorKind) -> Result<(), ConditionError> {
        for reference in [&self.left, &self.right]
            .into_iter()
            .filter_map(operand_ref)
        {
            if !reference.placeholder.provided_by(kind) {
                let usable: Vec<String> = Placeholder::ALL
                    .iter()
                    .filter(|p| p.provided_by(kind))
                    .map(|p| p.to_string())
                    .collect();
                let column = self
                    .to_string()
                    .find(&reference.placeholder.to_string())
                    .map_or(1, |byte| byte + 1);
                return Err(ConditionError::new(
                    column,
                    format!(
                        "{} is not available on a {kind} monitor; usable here: {}",
                        reference.placeholder,
                        if usable.is_empty() {
                            "none".to_owned()
                        } else {
                            usable.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the condition reads `[BODY]`.
    pub fn uses_body(&self) -> bool {
        self.placeholders().any(|p| p == Placeholder::Body)
    }

    /// The placeholders the condition reads.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        [&self.left, &self.right]
            .into_iter()
            .filter_map(operand_ref)
            .map(|r| r.placeholder)
    }

    /// Evaluates the condition against what a probe observed.
    pub fn evaluate(&self, observation: &Observation) -> ConditionResult {
        let ctx = Context::new(observation);
        self.evaluate_in(&ctx)
    }

    fn evaluate_in(&self, ctx: &Context<'_>) -> ConditionResult {
        let left = ctx.resolve(&self.left);
        let right = ctx.resolve(&self.right);
        let shown = |operand: &Operand, value: &Resolved| match (operand, value) {
            (Operand::Literal(_) | Operand::Pat(_) | Operand::Any(_), _) => operand.to_string(),
            (_, Resolved::Missing(why)) => format!("{operand} ({why})"),
            (_, Resolved::Value(v)) => format!("{operand} ({})", v.short()),
            (_, Resolved::Pattern(_) | Resolved::OneOf(_)) => operand.to_string(),
        };
        let detail = format!(
            "{} {} {}",
            shown(&self.left, &left),
            self.op,
            shown(&self.right, &right)
        );
        let passed = compare(&left, self.op, &right);
        ConditionResult { passed, detail }
    }

    fn type_check(&self, chars: &[char], op_at: usize) -> Result<(), ConditionError> {
        let col_left = first_non_space(chars, 0) + 1;
        let col_right = first_non_space(chars, op_at + self.op.as_str().len()) + 1;
        let is_value =
            |o: &Operand| matches!(o, Operand::Literal(_) | Operand::Any(_) | Operand::Pat(_));
        if is_value(&self.left) && is_value(&self.right) {
            return Err(ConditionError::new(
                col_left,
                format!(
                    "compares two constants; one side must be a placeholder such as [STATUS] or a function ({FUNCTIONS})"
                ),
            ));
        }
        for (operand, column) in [(&self.left, col_left), (&self.right, col_right)] {
            if matches!(operand, Operand::Pat(_) | Operand::Any(_)) && self.op.is_ordering() {
                let name = if matches!(operand, Operand::Pat(_)) {
                    "pat()"
                } else {
                    "any()"
                };
                return Err(ConditionError::new(
                    column,
                    format!("{name} only works with == and !=, not {}", self.op),
                ));
            }
        }
        if matches!(self.left, Operand::Pat(_) | Operand::Any(_)) {
            return Err(ConditionError::new(
                col_left,
                "pat() and any() go on the right-hand side, e.g. [STATUS] == any(200, 429)",
            ));
        }
        if matches!(self.right, Operand::Pat(_))
            && matches!(self.left, Operand::Len(_) | Operand::Has(_))
        {
            return Err(ConditionError::new(
                col_right,
                "pat() matches text; compare len() and has() with a number or true/false",
            ));
        }
        // A literal compared with a typed operand must be a value that operand can take.
        let pairs = [
            (&self.left, &self.right, col_right),
            (&self.right, &self.left, col_left),
        ];
        for (typed, value, column) in pairs {
            let Some(kind) = value_kind(typed) else {
                continue;
            };
            let literals: Vec<&str> = match value {
                Operand::Literal(s) => vec![s.as_str()],
                Operand::Any(items) => items.iter().map(String::as_str).collect(),
                _ => continue,
            };
            for literal in literals {
                kind.check(typed, literal, self.op)
                    .map_err(|m| ConditionError::new(column, m))?;
            }
        }
        Ok(())
    }
}

/// Evaluates several conditions against one observation, parsing a JSON body at most once.
pub fn evaluate_all(conditions: &[Condition], observation: &Observation) -> Vec<ConditionResult> {
    let ctx = Context::new(observation);
    conditions.iter().map(|c| c.evaluate_in(&ctx)).collect()
}

fn operand_ref(operand: &Operand) -> Option<&Reference> {
    match operand {
        Operand::Ref(r) | Operand::Len(r) | Operand::Has(r) => Some(r),
        _ => None,
    }
}

fn first_non_space(chars: &[char], from: usize) -> usize {
    let mut i = from;
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

// ---- parsing ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// The first comparison operator outside brackets and parentheses.
fn find_operator(chars: &[char]) -> Result<(usize, Comparator), ConditionError> {
    let mut depth_square = 0usize;
    let mut depth_paren = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '[' => depth_square += 1,
            ']' => depth_square = depth_square.saturating_sub(1),
            '(' => depth_paren += 1,
            ')' => depth_paren = depth_paren.saturating_sub(1),
            _ if depth_square > 0 || depth_paren > 0 => {}
            '=' if next == Some('=') => return Ok((i, Comparator::Eq)),
            '!' if next == Some('=') => return Ok((i, Comparator::Ne)),
            '<' if next == Some('=') => return Ok((i, Comparator::Le)),
            '>' if next == Some('=') => return Ok((i, Comparator::Ge)),
            '<' => return Ok((i, Comparator::Lt)),
            '>' => return Ok((i, Comparator::Gt)),
            '=' => {
                return Err(ConditionError::new(
                    i + 1,
                    "a single '=' is not an operator; use == to compare",
                ));
            }
            _ => {}
        }
        i += 1;
    }
    Err(ConditionError::new(
        chars.len().max(1),
        "no comparison found; expected LEFT OP RIGHT with OP one of == != < <= > >= (e.g. [STATUS] == 200)",
    ))
}

fn parse_operand(
    chars: &[char],
    start: usize,
    end: usize,
    side: Side,
) -> Result<Operand, ConditionError> {
    let mut s = start;
    let mut e = end;
    while s < e && chars[s].is_whitespace() {
        s += 1;
    }
    while e > s && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    if s == e {
        let what = if side == Side::Left { "left" } else { "right" };
        return Err(ConditionError::new(
            s + 1,
            format!("the {what}-hand side of the comparison is empty"),
        ));
    }
    if chars[s] == '[' {
        return parse_reference(chars, s, e).map(Operand::Ref);
    }
    // A function: an identifier immediately followed by '('.
    let mut ident_end = s;
    while ident_end < e && (chars[ident_end].is_ascii_alphanumeric() || chars[ident_end] == '_') {
        ident_end += 1;
    }
    if ident_end > s && ident_end < e && chars[ident_end] == '(' {
        let name: String = chars[s..ident_end].iter().collect();
        if chars[e - 1] != ')' {
            return Err(ConditionError::new(
                e + 1,
                format!("{name}( is not closed; expected ')'"),
            ));
        }
        let inner_start = ident_end + 1;
        let inner_end = e - 1;
        return match name.as_str() {
            "len" | "has" => {
                let (rs, re) = trim(chars, inner_start, inner_end);
                if rs == re || chars[rs] != '[' {
                    return Err(ConditionError::new(
                        rs + 1,
                        format!("{name}() takes a placeholder, e.g. {name}([BODY].data)"),
                    ));
                }
                let reference = parse_reference(chars, rs, re)?;
                Ok(if name == "len" {
                    Operand::Len(reference)
                } else {
                    Operand::Has(reference)
                })
            }
            "pat" => {
                let (ps, pe) = trim(chars, inner_start, inner_end);
                check_value_chars(chars, ps, pe, "pat()", false)?;
                Ok(Operand::Pat(chars[ps..pe].iter().collect()))
            }
            "any" => {
                let mut items = Vec::new();
                let mut item_start = inner_start;
                for i in inner_start..=inner_end {
                    if i == inner_end || chars[i] == ',' {
                        let (is, ie) = trim(chars, item_start, i);
                        check_value_chars(chars, is, ie, "any()", false)?;
                        items.push(chars[is..ie].iter().collect());
                        item_start = i + 1;
                    }
                }
                Ok(Operand::Any(items))
            }
            _ => Err(ConditionError::new(
                s + 1,
                format!("unknown function {name}(); known: {FUNCTIONS}"),
            )),
        };
    }
    check_value_chars(chars, s, e, "a value", true)?;
    Ok(Operand::Literal(chars[s..e].iter().collect()))
}

fn trim(chars: &[char], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && chars[s].is_whitespace() {
        s += 1;
    }
    while e > s && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    (s, e)
}

/// Literal values are written without quotes, so they may not contain the characters that
/// delimit placeholders and functions (nor commas inside a function).
fn check_value_chars(
    chars: &[char],
    s: usize,
    e: usize,
    what: &str,
    top_level: bool,
) -> Result<(), ConditionError> {
    if s == e {
        return Err(ConditionError::new(
            s + 1,
            format!("empty value in {what}; write the value to compare with"),
        ));
    }
    for (i, c) in chars.iter().enumerate().take(e).skip(s) {
        let bad = matches!(c, '[' | ']' | '(' | ')') || (!top_level && *c == ',');
        if bad || c.is_control() {
            return Err(ConditionError::new(
                i + 1,
                format!(
                    "unexpected {c:?} in {what}; values are written without brackets, parentheses or quotes"
                ),
            ));
        }
    }
    Ok(())
}

fn parse_reference(chars: &[char], s: usize, e: usize) -> Result<Reference, ConditionError> {
    // chars[s] == '['
    let Some(close) = (s + 1..e).find(|&i| chars[i] == ']') else {
        return Err(ConditionError::new(
            s + 1,
            "placeholder is not closed; expected ']'",
        ));
    };
    let name: String = chars[s + 1..close].iter().collect();
    let Some(placeholder) = Placeholder::from_name(&name) else {
        let hint = Placeholder::from_name(&name.to_ascii_uppercase())
            .map(|p| format!(" (did you mean {p}? placeholders are upper case)"))
            .unwrap_or_default();
        return Err(ConditionError::new(
            s + 1,
            format!(
                "unknown placeholder [{name}]{hint}; known: {}",
                known_placeholders()
            ),
        ));
    };
    let mut path = Vec::new();
    let mut i = close + 1;
    while i < e {
        match chars[i] {
            '.' => {
                let key_start = i + 1;
                let mut j = key_start;
                while j < e && is_key_char(chars[j]) {
                    j += 1;
                }
                if j == key_start {
                    return Err(ConditionError::new(
                        i + 1,
                        "expected a key after '.', e.g. [BODY].status",
                    ));
                }
                path.push(PathStep::Key(chars[key_start..j].iter().collect()));
                i = j;
            }
            '[' => {
                let Some(close) = (i + 1..e).find(|&k| chars[k] == ']') else {
                    return Err(ConditionError::new(
                        i + 1,
                        "index is not closed; expected ']'",
                    ));
                };
                let digits: String = chars[i + 1..close].iter().collect();
                let index = digits
                    .parse::<usize>()
                    .ok()
                    .filter(|_| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
                    .ok_or_else(|| {
                        ConditionError::new(
                            i + 2,
                            format!(
                                "array index must be a number, e.g. [BODY].data[0]; got [{digits}]"
                            ),
                        )
                    })?;
                path.push(PathStep::Index(index));
                i = close + 1;
            }
            c => {
                return Err(ConditionError::new(
                    i + 1,
                    format!(
                        "unexpected {c:?} after {placeholder}; expected an operator such as =="
                    ),
                ));
            }
        }
    }
    if !path.is_empty() && placeholder != Placeholder::Body {
        return Err(ConditionError::new(
            close + 2,
            format!("{placeholder} has no fields; only [BODY] takes a JSON path"),
        ));
    }
    Ok(Reference { placeholder, path })
}

fn is_key_char(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_control()
        && !matches!(c, '.' | '[' | ']' | '(' | ')' | ',' | '=' | '!' | '<' | '>')
}

// ---- literal typing ----

#[derive(Clone, Copy)]
enum ValueKind {
    StatusCode,
    Millis,
    Bool,
    Rcode,
    Count,
    Free,
}

fn value_kind(operand: &Operand) -> Option<ValueKind> {
    Some(match operand {
        Operand::Len(_) => ValueKind::Count,
        Operand::Has(_) => ValueKind::Bool,
        Operand::Ref(r) => match r.placeholder {
            Placeholder::Status => ValueKind::StatusCode,
            Placeholder::ResponseTime | Placeholder::CertificateExpiration => ValueKind::Millis,
            Placeholder::Connected => ValueKind::Bool,
            Placeholder::DnsRcode => ValueKind::Rcode,
            Placeholder::Body | Placeholder::Ip => ValueKind::Free,
        },
        _ => return None,
    })
}

impl ValueKind {
    fn check(self, typed: &Operand, literal: &str, op: Comparator) -> Result<(), String> {
        match self {
            ValueKind::StatusCode => match literal.parse::<u16>() {
                Ok(code) if (100..=999).contains(&code) => Ok(()),
                _ => Err(format!(
                    "{typed} is compared with {literal:?}; expected an HTTP status code such as 200"
                )),
            },
            ValueKind::Millis => {
                if literal.parse::<i64>().is_ok() || parse_duration(literal).is_ok() {
                    Ok(())
                } else {
                    Err(format!(
                        "{typed} is compared with {literal:?}; expected a duration such as 500ms, 30m or 168h (a bare number means milliseconds)"
                    ))
                }
            }
            ValueKind::Count => match literal.parse::<u64>() {
                Ok(_) => Ok(()),
                Err(_) => Err(format!(
                    "{typed} is compared with {literal:?}; expected a whole number"
                )),
            },
            ValueKind::Bool => {
                if op.is_ordering() {
                    Err(format!(
                        "{typed} is true or false; compare it with == or !="
                    ))
                } else if literal == "true" || literal == "false" {
                    Ok(())
                } else {
                    Err(format!(
                        "{typed} is compared with {literal:?}; expected true or false"
                    ))
                }
            }
            ValueKind::Rcode => {
                if op.is_ordering() {
                    Err(format!("{typed} is a name; compare it with == or !="))
                } else if DNS_RCODES.contains(&literal) {
                    Ok(())
                } else {
                    Err(format!(
                        "{typed} is compared with {literal:?}; expected one of {}",
                        DNS_RCODES.join(", ")
                    ))
                }
            }
            ValueKind::Free => {
                if op.is_ordering() && number_of(literal).is_none() {
                    Err(format!(
                        "{literal:?} is not a number or duration, so {op} cannot order it; use == or != for text"
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A number, or a duration in milliseconds.
fn number_of(text: &str) -> Option<f64> {
    if let Ok(n) = text.parse::<f64>()
        && n.is_finite()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return Some(n);
    }
    parse_duration(text).ok().map(|d| d.as_millis() as f64)
}

// ---- evaluation ----

/// A resolved value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Number(f64),
    Bool(bool),
    Text(String),
}

impl Value {
    fn from_literal(text: &str) -> Value {
        if text == "true" {
            Value::Bool(true)
        } else if text == "false" {
            Value::Bool(false)
        } else if let Some(n) = number_of(text) {
            Value::Number(n)
        } else {
            Value::Text(text.to_owned())
        }
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => number_of(t),
            Value::Bool(_) => None,
        }
    }

    fn as_text(&self) -> String {
        match self {
            Value::Number(n) => format_number(*n),
            Value::Bool(b) => b.to_string(),
            Value::Text(t) => t.clone(),
        }
    }

    fn short(&self) -> String {
        let text = self.as_text();
        const MAX: usize = 80;
        if text.chars().count() > MAX {
            let cut: String = text.chars().take(MAX).collect();
            format!("{cut}…")
        } else {
            text
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

enum Resolved {
    Value(Value),
    Missing(String),
    Pattern(String),
    OneOf(Vec<Value>),
}

struct Context<'a> {
    observation: &'a Observation,
    json: OnceCell<Option<serde_json::Value>>,
}

impl<'a> Context<'a> {
    fn new(observation: &'a Observation) -> Self {
        Context {
            observation,
            json: OnceCell::new(),
        }
    }

    fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| {
                self.observation
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
            })
            .as_ref()
    }

    fn resolve(&self, operand: &Operand) -> Resolved {
        match operand {
            Operand::Literal(text) => Resolved::Value(Value::from_literal(text)),
            Operand::Pat(p) => Resolved::Pattern(p.clone()),
            Operand::Any(items) => {
                Resolved::OneOf(items.iter().map(|i| Value::from_literal(i)).collect())
            }
            Operand::Ref(r) => match self.lookup(r) {
                Ok(Found::Json(v)) => Resolved::Value(json_value(v)),
                Ok(Found::Plain(v)) => Resolved::Value(v),
                Err(why) => Resolved::Missing(why),
            },
            Operand::Has(r) => Resolved::Value(Value::Bool(self.lookup(r).is_ok())),
            Operand::Len(r) => match self.lookup(r) {
                Ok(Found::Json(v)) => Resolved::Value(Value::Number(match v {
                    serde_json::Value::Array(a) => a.len() as f64,
                    serde_json::Value::Object(o) => o.len() as f64,
                    serde_json::Value::String(s) => s.chars().count() as f64,
                    other => other.to_string().chars().count() as f64,
                })),
                Ok(Found::Plain(v)) => {
                    Resolved::Value(Value::Number(v.as_text().chars().count() as f64))
                }
                Err(why) => Resolved::Missing(why),
            },
        }
    }

    fn lookup(&self, reference: &Reference) -> Result<Found<'_>, String> {
        let o = self.observation;
        let plain = |v: Option<Value>| v.map(Found::Plain).ok_or_else(|| "not observed".to_owned());
        match reference.placeholder {
            Placeholder::Status => plain(o.status.map(|s| Value::Number(f64::from(s)))),
            Placeholder::ResponseTime => Ok(Found::Plain(Value::Number(o.response_time_ms as f64))),
            Placeholder::Ip => plain(o.ip.map(|ip| Value::Text(ip.to_string()))),
            Placeholder::Connected => plain(o.connected.map(Value::Bool)),
            Placeholder::DnsRcode => plain(o.dns_rcode.clone().map(Value::Text)),
            Placeholder::CertificateExpiration => plain(
                o.certificate_expiration_ms
                    .map(|ms| Value::Number(ms as f64)),
            ),
            Placeholder::Body if reference.path.is_empty() => {
                if let Some(body) = &o.body {
                    Ok(Found::Plain(Value::Text(
                        String::from_utf8_lossy(body).into_owned(),
                    )))
                } else if !o.dns_answers.is_empty() || o.dns_rcode.is_some() {
                    Ok(Found::Plain(Value::Text(o.dns_answers.join("\n"))))
                } else {
                    Err("no body".to_owned())
                }
            }
            Placeholder::Body => {
                let Some(mut node) = self.json() else {
                    return Err("body is not JSON".to_owned());
                };
                for step in &reference.path {
                    let next = match step {
                        PathStep::Key(k) => node.get(k.as_str()),
                        PathStep::Index(i) => node.get(*i),
                    };
                    node = next.ok_or_else(|| "missing from the body".to_owned())?;
                }
                Ok(Found::Json(node))
            }
        }
    }
}

enum Found<'a> {
    Json(&'a serde_json::Value),
    Plain(Value),
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_f64()
            .map_or_else(|| Value::Text(n.to_string()), Value::Number),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

fn compare(left: &Resolved, op: Comparator, right: &Resolved) -> bool {
    match (left, right) {
        (Resolved::Missing(_), _) | (_, Resolved::Missing(_)) => false,
        (Resolved::Value(l), Resolved::Pattern(p)) | (Resolved::Pattern(p), Resolved::Value(l)) => {
            let matched = glob_match(p, &l.as_text());
            match op {
                Comparator::Eq => matched,
                Comparator::Ne => !matched,
                _ => false,
            }
        }
        (Resolved::Value(l), Resolved::OneOf(items))
        | (Resolved::OneOf(items), Resolved::Value(l)) => {
            let found = items.iter().any(|item| values_equal(l, item));
            match op {
                Comparator::Eq => found,
                Comparator::Ne => !found,
                _ => false,
            }
        }
        (Resolved::Value(l), Resolved::Value(r)) => match op {
            Comparator::Eq => values_equal(l, r),
            Comparator::Ne => !values_equal(l, r),
            _ => match (l.as_number(), r.as_number()) {
                (Some(a), Some(b)) => match op {
                    Comparator::Lt => a < b,
                    Comparator::Le => a <= b,
                    Comparator::Gt => a > b,
                    Comparator::Ge => a >= b,
                    Comparator::Eq | Comparator::Ne => false,
                },
                _ => false,
            },
        },
        _ => false,
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => match (a.as_number(), b.as_number()) {
            (Some(x), Some(y)) => x == y,
            _ => a.as_text() == b.as_text(),
        },
    }
}

/// Glob matching where `*` matches any run of characters (including none).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last star: linear in practice, never
    // exponential (Gatus documents pat() as expensive; this one is not).
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// A duration as the condition language prints it (used in details).
pub fn describe_millis(ms: i64) -> String {
    if ms < 0 {
        format!(
            "-{}",
            format_duration(std::time::Duration::from_millis(ms.unsigned_abs()))
        )
    } else {
        format_duration(std::time::Duration::from_millis(ms.unsigned_abs()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn parse(s: &str) -> Condition {
        Condition::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn eval(s: &str, o: &Observation) -> ConditionResult {
        parse(s).evaluate(o)
    }

    fn http(status: u16, ms: u64, body: &str) -> Observation {
        Observation {
            status: Some(status),
            response_time_ms: ms,
            body: Some(body.as_bytes().to_vec()),
            connected: Some(true),
            ip: "127.0.0.1".parse().ok(),
            ..Observation::default()
        }
    }

    #[test]
    fn every_documented_example_parses_and_prints_canonically() {
        for (text, canonical) in [
            ("[STATUS] == 200", "[STATUS] == 200"),
            ("[STATUS]==any(200,429)", "[STATUS] == any(200, 429)"),
            ("[RESPONSE_TIME] < 300", "[RESPONSE_TIME] < 300"),
            ("[BODY].status == UP", "[BODY].status == UP"),
            (
                "[CERTIFICATE_EXPIRATION] > 168h",
                "[CERTIFICATE_EXPIRATION] > 168h",
            ),
            ("len([BODY].data) < 5", "len([BODY].data) < 5"),
            ("[BODY].age == [BODY].id", "[BODY].age == [BODY].id"),
            ("[BODY] == pat(*ok*)", "[BODY] == pat(*ok*)"),
            ("has([BODY].errors) == false", "has([BODY].errors) == false"),
            ("[BODY].data[0].id == 7", "[BODY].data[0].id == 7"),
            ("  [DNS_RCODE]   ==   NXDOMAIN ", "[DNS_RCODE] == NXDOMAIN"),
            ("[CONNECTED] == true", "[CONNECTED] == true"),
            ("[IP] == 127.0.0.1", "[IP] == 127.0.0.1"),
            (
                "[BODY].message == hello world",
                "[BODY].message == hello world",
            ),
        ] {
            let c = parse(text);
            assert_eq!(c.to_string(), canonical);
            assert_eq!(parse(canonical), c);
        }
    }

    #[test]
    fn errors_name_the_problem_and_the_column() {
        let e = Condition::parse("[STAUTS] == 200").unwrap_err();
        assert_eq!(e.column, 1);
        assert!(
            e.to_string()
                .starts_with("unknown placeholder [STAUTS]; known: [STATUS], [RESPONSE_TIME]"),
            "{e}"
        );
        let e = Condition::parse("[STATUS] == [BDY]").unwrap_err();
        assert_eq!(e.column, 13, "{e}");
        let e = Condition::parse("[status] == 200").unwrap_err();
        assert!(e.message.contains("did you mean [STATUS]"), "{e}");
        let e = Condition::parse("[STATUS] = 200").unwrap_err();
        assert_eq!(e.column, 10);
        assert!(e.message.contains("use =="), "{e}");
        let e = Condition::parse("[STATUS]").unwrap_err();
        assert!(e.message.contains("no comparison"), "{e}");
        let e = Condition::parse("[STATUS] == ").unwrap_err();
        assert!(e.message.contains("right-hand side"), "{e}");
        let e = Condition::parse("size([BODY]) < 3").unwrap_err();
        assert!(e.message.contains("unknown function size()"), "{e}");
        assert_eq!(e.column, 1);
        let e = Condition::parse("[BODY] < pat(*a*)").unwrap_err();
        assert!(e.message.contains("pat() only works with == and !="), "{e}");
        let e = Condition::parse("[STATUS] > any(200, 300)").unwrap_err();
        assert!(e.message.contains("any() only works"), "{e}");
        let e = Condition::parse("[STATUS] == OK").unwrap_err();
        assert!(e.message.contains("HTTP status code"), "{e}");
        assert_eq!(e.column, 13);
        let e = Condition::parse("[CERTIFICATE_EXPIRATION] > 7 days").unwrap_err();
        assert!(e.message.contains("duration"), "{e}");
        let e = Condition::parse("[DNS_RCODE] == NOERRR").unwrap_err();
        assert!(e.message.contains("NXDOMAIN"), "{e}");
        let e = Condition::parse("[CONNECTED] == yes").unwrap_err();
        assert!(e.message.contains("true or false"), "{e}");
        let e = Condition::parse("[STATUS].code == 200").unwrap_err();
        assert!(e.message.contains("only [BODY] takes a JSON path"), "{e}");
        let e = Condition::parse("[BODY].data[x] == 1").unwrap_err();
        assert!(e.message.contains("array index"), "{e}");
        let e = Condition::parse("1 == 1").unwrap_err();
        assert!(e.message.contains("two constants"), "{e}");
        let e = Condition::parse("[BODY].name < abc").unwrap_err();
        assert!(e.message.contains("cannot order"), "{e}");
        let e = Condition::parse("[STATUS] == any(200,,300)").unwrap_err();
        assert!(e.message.contains("empty value"), "{e}");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = Condition::parse("[BODY].é == [NOPE]").unwrap_err();
        assert_eq!(e.column, 13);
    }

    #[test]
    fn status_and_any() {
        let o = http(429, 10, "");
        assert!(eval("[STATUS] == any(200, 429)", &o).passed);
        assert!(!eval("[STATUS] == 200", &o).passed);
        assert!(eval("[STATUS] != any(200, 201)", &o).passed);
        let r = eval("[STATUS] == any(200, 201)", &o);
        assert!(!r.passed);
        assert_eq!(r.detail, "[STATUS] (429) == any(200, 201)");
        assert!(eval("[STATUS] < 500", &o).passed);
        assert!(eval("200 < [STATUS]", &o).passed);
    }

    #[test]
    fn response_time_with_numbers_and_durations() {
        let o = http(200, 450, "");
        assert!(!eval("[RESPONSE_TIME] < 300", &o).passed);
        assert!(eval("[RESPONSE_TIME] < 1s", &o).passed);
        assert!(eval("[RESPONSE_TIME] >= 450ms", &o).passed);
        assert!(eval("[RESPONSE_TIME] <= 450", &o).passed);
        assert!(!eval("[RESPONSE_TIME] > 450", &o).passed);
    }

    #[test]
    fn json_paths_len_has_and_cross_references() {
        let body = r#"{"status":"UP","data":[{"id":3},{"id":4}],"age":3,"id":3,"ok":true,"n":1.5}"#;
        let o = http(200, 1, body);
        assert!(eval("[BODY].status == UP", &o).passed);
        assert!(!eval("[BODY].status == DOWN", &o).passed);
        assert!(eval("[BODY].data[0].id == 3", &o).passed);
        assert!(eval("[BODY].data[1].id > 3", &o).passed);
        assert!(eval("len([BODY].data) < 5", &o).passed);
        assert!(eval("len([BODY].data) == 2", &o).passed);
        assert!(eval("len([BODY].status) == 2", &o).passed);
        assert!(eval("[BODY].age == [BODY].id", &o).passed);
        assert!(eval("has([BODY].errors) == false", &o).passed);
        assert!(eval("has([BODY].status) == true", &o).passed);
        assert!(eval("[BODY].ok == true", &o).passed);
        assert!(eval("[BODY].n > 1", &o).passed);
        let r = eval("[BODY].missing == 1", &o);
        assert!(!r.passed);
        assert_eq!(r.detail, "[BODY].missing (missing from the body) == 1");
        // Missing values never pass, whatever the operator.
        assert!(!eval("[BODY].missing != 1", &o).passed);
        assert!(!eval("[BODY].data[9].id != 1", &o).passed);
    }

    #[test]
    fn body_that_is_not_json_fails_path_conditions_with_a_reason() {
        let o = http(200, 1, "<html>ok</html>");
        let r = eval("[BODY].status == UP", &o);
        assert!(!r.passed);
        assert!(r.detail.contains("body is not JSON"), "{}", r.detail);
        assert!(eval("[BODY] == pat(*ok*)", &o).passed);
        assert!(eval("[BODY] != pat(*error*)", &o).passed);
        assert!(!eval("[BODY] == pat(ok)", &o).passed);
        assert!(eval("len([BODY]) == 15", &o).passed);
    }

    #[test]
    fn certificate_expiration_is_compared_in_milliseconds() {
        let o = Observation {
            certificate_expiration_ms: Some(100 * 3_600_000),
            ..Observation::default()
        };
        assert!(!eval("[CERTIFICATE_EXPIRATION] > 168h", &o).passed);
        assert!(eval("[CERTIFICATE_EXPIRATION] > 48h", &o).passed);
        assert!(eval("[CERTIFICATE_EXPIRATION] > 0h", &o).passed);
        let r = eval("[CERTIFICATE_EXPIRATION] > 1h", &Observation::default());
        assert!(!r.passed);
        assert!(r.detail.contains("not observed"), "{}", r.detail);
    }

    #[test]
    fn dns_rcode_connected_ip_and_answers() {
        let o = Observation {
            dns_rcode: Some("NXDOMAIN".into()),
            ..Observation::default()
        };
        assert!(eval("[DNS_RCODE] == NXDOMAIN", &o).passed);
        assert!(!eval("[DNS_RCODE] == NOERROR", &o).passed);
        let o = Observation {
            dns_rcode: Some("NOERROR".into()),
            dns_answers: vec!["10.0.0.1".into(), "10.0.0.2".into()],
            ip: "10.0.0.1".parse().ok(),
            ..Observation::default()
        };
        assert!(eval("[BODY] == pat(*10.0.0.2*)", &o).passed);
        assert!(eval("[IP] == 10.0.0.1", &o).passed);
        assert!(eval("[IP] == pat(10.0.*)", &o).passed);
        let o = Observation {
            connected: Some(false),
            ..Observation::default()
        };
        assert!(!eval("[CONNECTED] == true", &o).passed);
        assert!(eval("[CONNECTED] != true", &o).passed);
    }

    #[test]
    fn numbers_compare_numerically_and_text_as_text() {
        let o = http(200, 1, r#"{"v":"1.0","name":"200"}"#);
        assert!(eval("[BODY].v == 1", &o).passed);
        assert!(eval("[BODY].name == [STATUS]", &o).passed);
        assert!(eval("[BODY].name == 200", &o).passed);
    }

    #[test]
    fn kind_check_refuses_placeholders_a_kind_cannot_provide() {
        let c = parse("[STATUS] == 200");
        assert!(c.check_kind(MonitorKind::Http).is_ok());
        let e = c.check_kind(MonitorKind::Tcp).unwrap_err();
        assert!(
            e.message
                .contains("[STATUS] is not available on a tcp monitor"),
            "{e}"
        );
        assert!(e.message.contains("[CONNECTED]"), "{e}");
        assert!(
            parse("[DNS_RCODE] == NOERROR")
                .check_kind(MonitorKind::Http)
                .is_err()
        );
        assert!(
            parse("[DNS_RCODE] == NOERROR")
                .check_kind(MonitorKind::Dns)
                .is_ok()
        );
        assert!(
            parse("[CERTIFICATE_EXPIRATION] > 1h")
                .check_kind(MonitorKind::Tls)
                .is_ok()
        );
        assert!(
            parse("len([BODY]) > 1")
                .check_kind(MonitorKind::Tls)
                .is_err()
        );
        let e = parse("[RESPONSE_TIME] < 5").check_kind(MonitorKind::Tls);
        assert!(e.is_ok());
        let e = parse("[BODY].x == 1 ")
            .check_kind(MonitorKind::Tcp)
            .unwrap_err();
        assert_eq!(e.column, 1);
    }

    #[test]
    fn glob() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*ok*", "all ok here"));
        assert!(!glob_match("a*c", "abcd"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("abc", "ab"));
        // A pathological pattern finishes quickly.
        let text = "a".repeat(10_000);
        assert!(!glob_match("*a*a*a*a*a*b", &text));
    }

    #[test]
    fn evaluate_all_shares_one_observation() {
        let o = http(200, 5, r#"{"a":1}"#);
        let cs = [parse("[STATUS] == 200"), parse("[BODY].a == 2")];
        let rs = evaluate_all(&cs, &o);
        assert!(rs[0].passed);
        assert!(!rs[1].passed);
        assert_eq!(rs[1].detail, "[BODY].a (1) == 2");
    }
}
