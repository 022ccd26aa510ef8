//! The `${...}` expression language, as far as our workflows use it.
//!
//! - literals: numbers, `"strings"` and `'strings'`, `true`/`false`/`null` (also `True`/`False`),
//!   lists `[a, b]`, maps `{"k": v}`
//! - variables, `map.key`, `map["key"]`, `list[0]`
//! - `+ - * / % //`, unary `-`, `== != < <= > >=`, `in`, `and`, `or`, `not`; `+` also joins two
//!   strings or two lists. As in Cloud Workflows, `/` always gives a double and `+` never mixes a
//!   string with a number (use `string()`)
//! - functions: `len`, `default`, `keys`, `string`, `int`, `double`, `map.get`, `sys.get_env`,
//!   `sys.now`, `json.encode_to_string`, `json.decode`, `text.to_lower`, `text.split`
//!
//! Anything else (another function, an operator we do not know) is refused when the workflow is
//! parsed, not when it runs.

use serde_json::{Map, Number, Value, json};

/// The functions an expression may call; any other name is refused at parse time.
pub const FUNCTIONS: &[&str] = &[
    "len",
    "default",
    "keys",
    "string",
    "int",
    "double",
    "map.get",
    "sys.get_env",
    "sys.now",
    "json.encode_to_string",
    "json.decode",
    "text.to_lower",
    "text.split",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Value),
    Var(String),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
    /// `a.b`
    Field(Box<Expr>, String),
    /// `a[b]`
    Index(Box<Expr>, Box<Expr>),
    /// A function of [`FUNCTIONS`] with its arguments.
    Call(String, Vec<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    IntDiv,
}

/// Why an expression does not parse; `construct` names what is unsupported, when that is the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub construct: Option<String>,
}

impl SyntaxError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), construct: None }
    }
    fn unsupported(construct: impl Into<String>) -> Self {
        let construct = construct.into();
        Self { message: format!("unsupported {construct}"), construct: Some(construct) }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Value),
    Str(String),
    Ident(String),
    Op(&'static str),
}

const OPS: &[&str] =
    &["//", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", "{", "}", ",", ".", ":"];

fn lex(src: &str) -> Result<Vec<Tok>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                // `1.` followed by a name is not a number (there is no such use; keep it simple).
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let value = if text.contains('.') {
                text.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
            } else {
                text.parse::<i64>().ok().map(|n| json!(n))
            };
            out.push(Tok::Num(value.ok_or_else(|| SyntaxError::new(format!("bad number {text}")))?));
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(SyntaxError::new("unterminated string"));
                };
                i += 1;
                if ch == c {
                    break;
                }
                if ch == '\\' {
                    let Some(&esc) = chars.get(i) else {
                        return Err(SyntaxError::new("unterminated string"));
                    };
                    i += 1;
                    s.push(match esc {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                } else {
                    s.push(ch);
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) else {
                return Err(SyntaxError::unsupported(format!("character `{c}` in an expression")));
            };
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Ok(out)
}

/// Parses the text between `${` and `}`.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(SyntaxError::new(format!("unexpected {} in `{src}`", p.describe())));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn describe(&self) -> String {
        match self.peek() {
            None => "end of expression".into(),
            Some(Tok::Op(o)) => format!("`{o}`"),
            Some(Tok::Ident(s)) => format!("`{s}`"),
            Some(Tok::Str(s)) => format!("string {s:?}"),
            Some(Tok::Num(n)) => format!("number {n}"),
        }
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), SyntaxError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(SyntaxError::new(format!("expected `{op}`, found {}", self.describe())))
        }
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut l = self.and()?;
        while self.eat_word("or") {
            l = Expr::Binary(BinOp::Or, Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut l = self.not()?;
        while self.eat_word("and") {
            l = Expr::Binary(BinOp::And, Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Expr, SyntaxError> {
        if self.eat_word("not") { Ok(Expr::Not(Box::new(self.not()?))) } else { self.cmp() }
    }
    fn cmp(&mut self) -> Result<Expr, SyntaxError> {
        let l = self.sum()?;
        let op = match self.peek() {
            Some(Tok::Op("==")) => BinOp::Eq,
            Some(Tok::Op("!=")) => BinOp::Ne,
            Some(Tok::Op("<")) => BinOp::Lt,
            Some(Tok::Op("<=")) => BinOp::Le,
            Some(Tok::Op(">")) => BinOp::Gt,
            Some(Tok::Op(">=")) => BinOp::Ge,
            Some(Tok::Ident(w)) if w == "in" => BinOp::In,
            _ => return Ok(l),
        };
        self.pos += 1;
        Ok(Expr::Binary(op, Box::new(l), Box::new(self.sum()?)))
    }
    fn sum(&mut self) -> Result<Expr, SyntaxError> {
        let mut l = self.product()?;
        loop {
            let op = if self.eat_op("+") {
                BinOp::Add
            } else if self.eat_op("-") {
                BinOp::Sub
            } else {
                return Ok(l);
            };
            l = Expr::Binary(op, Box::new(l), Box::new(self.product()?));
        }
    }
    fn product(&mut self) -> Result<Expr, SyntaxError> {
        let mut l = self.unary()?;
        loop {
            let op = if self.eat_op("*") {
                BinOp::Mul
            } else if self.eat_op("//") {
                BinOp::IntDiv
            } else if self.eat_op("/") {
                BinOp::Div
            } else if self.eat_op("%") {
                BinOp::Rem
            } else {
                return Ok(l);
            };
            l = Expr::Binary(op, Box::new(l), Box::new(self.unary()?));
        }
    }
    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.eat_op("-") { Ok(Expr::Neg(Box::new(self.unary()?))) } else { self.postfix() }
    }
    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let mut e = self.primary()?;
        loop {
            if self.eat_op(".") {
                match self.toks.get(self.pos).cloned() {
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        e = Expr::Field(Box::new(e), name);
                    }
                    _ => return Err(SyntaxError::new(format!("expected a name after `.`, found {}", self.describe()))),
                }
            } else if self.eat_op("[") {
                let index = self.or()?;
                self.expect_op("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else if self.eat_op("(") {
                let Some(name) = dotted_name(&e) else {
                    return Err(SyntaxError::new("only named functions can be called"));
                };
                if !FUNCTIONS.contains(&name.as_str()) {
                    return Err(SyntaxError::unsupported(format!("function `{name}`")));
                }
                let mut args = Vec::new();
                if !self.eat_op(")") {
                    loop {
                        args.push(self.or()?);
                        if self.eat_op(")") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                e = Expr::Call(name, args);
            } else {
                return Ok(e);
            }
        }
    }
    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let Some(tok) = self.toks.get(self.pos).cloned() else {
            return Err(SyntaxError::new("unexpected end of expression"));
        };
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Lit(n)),
            Tok::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Tok::Ident(w) => Ok(match w.as_str() {
                "true" | "True" => Expr::Lit(Value::Bool(true)),
                "false" | "False" => Expr::Lit(Value::Bool(false)),
                "null" => Expr::Lit(Value::Null),
                _ => Expr::Var(w),
            }),
            Tok::Op("(") => {
                let e = self.or()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                if !self.eat_op("]") {
                    loop {
                        items.push(self.or()?);
                        if self.eat_op("]") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                Ok(Expr::List(items))
            }
            Tok::Op("{") => {
                let mut entries = Vec::new();
                if !self.eat_op("}") {
                    loop {
                        let key = match self.toks.get(self.pos).cloned() {
                            Some(Tok::Str(s)) => s,
                            _ => return Err(SyntaxError::new("map keys in expressions must be strings")),
                        };
                        self.pos += 1;
                        self.expect_op(":")?;
                        entries.push((key, self.or()?));
                        if self.eat_op("}") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                Ok(Expr::Map(entries))
            }
            Tok::Op(o) => {
                self.pos -= 1;
                Err(SyntaxError::new(format!("unexpected `{o}`")))
            }
        }
    }
}

/// `a.b.c` as the name "a.b.c", for function calls.
fn dotted_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Var(v) => Some(v.clone()),
        Expr::Field(inner, f) => Some(format!("{}.{f}", dotted_name(inner)?)),
        _ => None,
    }
}

/// What an expression needs from the running workflow.
pub trait Scope {
    fn var(&self, name: &str) -> Option<&Value>;
    fn env(&self, name: &str) -> Option<String>;
}

/// A Cloud Workflows error value: `{"message": ..., "tags": [tag]}`.
pub fn error(tag: &str, message: impl Into<String>) -> Value {
    json!({"message": message.into(), "tags": [tag]})
}

/// The Workflows type name of a value, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "double",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn truthy(v: &Value, what: &str) -> Result<bool, Value> {
    v.as_bool().ok_or_else(|| error("TypeError", format!("{what} needs a boolean, got {}", type_name(v))))
}

enum Num {
    Int(i64),
    Float(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Number(n) => n.as_i64().map(Num::Int).or_else(|| n.as_f64().map(Num::Float)),
        _ => None,
    }
}

fn float(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn from_f64(x: f64) -> Result<Value, Value> {
    Number::from_f64(x).map(Value::Number).ok_or_else(|| error("ValueError", "the result is not a finite number"))
}

/// Evaluates an expression in `scope`; a failure is a Workflows error value (raised by the step).
pub fn eval(e: &Expr, scope: &dyn Scope) -> Result<Value, Value> {
    match e {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Var(name) => {
            scope.var(name).cloned().ok_or_else(|| error("KeyError", format!("variable not found: {name}")))
        }
        Expr::List(items) => Ok(Value::Array(items.iter().map(|i| eval(i, scope)).collect::<Result<_, _>>()?)),
        Expr::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                m.insert(k.clone(), eval(v, scope)?);
            }
            Ok(Value::Object(m))
        }
        Expr::Field(inner, key) => {
            let base = eval(inner, scope)?;
            get_key(&base, key)
        }
        Expr::Index(inner, index) => {
            let base = eval(inner, scope)?;
            let index = eval(index, scope)?;
            match (&base, &index) {
                (Value::Object(_), Value::String(k)) => get_key(&base, k),
                (Value::Array(items), Value::Number(n)) => {
                    let i = n.as_i64().ok_or_else(|| error("TypeError", "a list index must be an integer"))?;
                    let len = items.len() as i64;
                    let at = if i < 0 { len + i } else { i };
                    usize::try_from(at)
                        .ok()
                        .and_then(|at| items.get(at))
                        .cloned()
                        .ok_or_else(|| error("IndexError", format!("list index {i} out of range (length {len})")))
                }
                _ => {
                    Err(error("TypeError", format!("cannot index a {} with a {}", type_name(&base), type_name(&index))))
                }
            }
        }
        Expr::Call(name, args) => call(name, args, scope),
        Expr::Neg(inner) => match num(&eval(inner, scope)?) {
            Some(Num::Int(i)) => Ok(json!(-i)),
            Some(Num::Float(f)) => from_f64(-f),
            None => Err(error("TypeError", "unary minus needs a number")),
        },
        Expr::Not(inner) => Ok(Value::Bool(!truthy(&eval(inner, scope)?, "not")?)),
        Expr::Binary(BinOp::And, l, r) => {
            Ok(Value::Bool(truthy(&eval(l, scope)?, "and")? && truthy(&eval(r, scope)?, "and")?))
        }
        Expr::Binary(BinOp::Or, l, r) => {
            Ok(Value::Bool(truthy(&eval(l, scope)?, "or")? || truthy(&eval(r, scope)?, "or")?))
        }
        Expr::Binary(op, l, r) => binary(*op, &eval(l, scope)?, &eval(r, scope)?),
    }
}

fn get_key(base: &Value, key: &str) -> Result<Value, Value> {
    match base {
        Value::Object(m) => m.get(key).cloned().ok_or_else(|| error("KeyError", format!("key not found: {key}"))),
        other => Err(error("TypeError", format!("cannot read key {key:?} of a {}", type_name(other)))),
    }
}

fn binary(op: BinOp, l: &Value, r: &Value) -> Result<Value, Value> {
    use BinOp::*;
    match op {
        Eq => return Ok(Value::Bool(equal(l, r))),
        Ne => return Ok(Value::Bool(!equal(l, r))),
        In => {
            return match r {
                Value::Array(items) => Ok(Value::Bool(items.iter().any(|i| equal(i, l)))),
                Value::Object(m) => match l {
                    Value::String(k) => Ok(Value::Bool(m.contains_key(k))),
                    _ => Err(error("TypeError", "`in` a map needs a string key")),
                },
                _ => Err(error("TypeError", format!("`in` needs a list or a map, got {}", type_name(r)))),
            };
        }
        Lt | Le | Gt | Ge => {
            let ord = match (l, r) {
                (Value::String(a), Value::String(b)) => a.cmp(b),
                _ => match (float(l), float(r)) {
                    (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
                    _ => {
                        return Err(error(
                            "TypeError",
                            format!("cannot compare {} with {}", type_name(l), type_name(r)),
                        ));
                    }
                },
            };
            use std::cmp::Ordering::*;
            return Ok(Value::Bool(match op {
                Lt => ord == Less,
                Le => ord != Greater,
                Gt => ord == Greater,
                _ => ord != Less,
            }));
        }
        _ => {}
    }
    if op == Add {
        match (l, r) {
            (Value::String(a), Value::String(b)) => return Ok(Value::String(format!("{a}{b}"))),
            (Value::Array(a), Value::Array(b)) => return Ok(Value::Array(a.iter().chain(b).cloned().collect())),
            _ => {}
        }
    }
    let (Some(a), Some(b)) = (num(l), num(r)) else {
        return Err(error(
            "TypeError",
            format!("unsupported operand types for {op:?}: {} and {}", type_name(l), type_name(r)),
        ));
    };
    match (a, b) {
        (Num::Int(a), Num::Int(b)) if op != Div => {
            let out = match op {
                Add => a.checked_add(b),
                Sub => a.checked_sub(b),
                Mul => a.checked_mul(b),
                Rem | IntDiv if b == 0 => return Err(error("ZeroDivisionError", "division by zero")),
                Rem => Some(a.rem_euclid(b)),
                _ => Some(a.div_euclid(b)),
            };
            out.map(|n| json!(n)).ok_or_else(|| error("ValueError", "integer overflow"))
        }
        (a, b) => {
            let f = |n: Num| match n {
                Num::Int(i) => i as f64,
                Num::Float(f) => f,
            };
            let (a, b) = (f(a), f(b));
            if matches!(op, Div | Rem | IntDiv) && b == 0.0 {
                return Err(error("ZeroDivisionError", "division by zero"));
            }
            from_f64(match op {
                Add => a + b,
                Sub => a - b,
                Mul => a * b,
                Div => a / b,
                Rem => a.rem_euclid(b),
                _ => (a / b).floor(),
            })
        }
    }
}

/// Equality where `1 == 1.0`.
fn equal(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => l == r,
    }
}

fn arity(name: &str, args: &[Expr], n: std::ops::RangeInclusive<usize>) -> Result<(), Value> {
    if n.contains(&args.len()) {
        Ok(())
    } else {
        Err(error("TypeError", format!("{name}() takes {n:?} arguments, got {}", args.len())))
    }
}

fn call(name: &str, args: &[Expr], scope: &dyn Scope) -> Result<Value, Value> {
    match name {
        "default" => {
            arity(name, args, 2..=2)?;
            let v = eval(&args[0], scope)?;
            if v.is_null() { eval(&args[1], scope) } else { Ok(v) }
        }
        "map.get" => {
            arity(name, args, 2..=2)?;
            let m = eval(&args[0], scope)?;
            let key = eval(&args[1], scope)?;
            let path: Vec<Value> = match key {
                Value::Array(keys) => keys,
                k => vec![k],
            };
            let mut cur = m;
            for k in path {
                let Value::String(k) = k else {
                    return Err(error("TypeError", "map.get needs string keys"));
                };
                cur = match cur {
                    Value::Object(mut o) => o.remove(&k).unwrap_or(Value::Null),
                    Value::Null => Value::Null,
                    other => return Err(error("TypeError", format!("map.get on a {}", type_name(&other)))),
                };
            }
            Ok(cur)
        }
        _ => {
            let values: Vec<Value> = args.iter().map(|a| eval(a, scope)).collect::<Result<_, _>>()?;
            call_values(name, &values, scope)
        }
    }
}

fn call_values(name: &str, a: &[Value], scope: &dyn Scope) -> Result<Value, Value> {
    let want = |n: usize| {
        if a.len() == n {
            Ok(())
        } else {
            Err(error("TypeError", format!("{name}() takes {n} arguments, got {}", a.len())))
        }
    };
    match name {
        "len" => {
            want(1)?;
            let n = match &a[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(l) => l.len(),
                Value::Object(m) => m.len(),
                other => return Err(error("TypeError", format!("len() of a {}", type_name(other)))),
            };
            Ok(json!(n))
        }
        "keys" => {
            want(1)?;
            match &a[0] {
                Value::Object(m) => Ok(Value::Array(m.keys().map(|k| Value::String(k.clone())).collect())),
                other => Err(error("TypeError", format!("keys() of a {}", type_name(other)))),
            }
        }
        "string" => {
            want(1)?;
            Ok(Value::String(match &a[0] {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => a[0].to_string(),
                other => return Err(error("TypeError", format!("string() of a {}", type_name(other)))),
            }))
        }
        "int" => {
            want(1)?;
            match &a[0] {
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Ok(json!(i)),
                    None => Ok(json!(n.as_f64().unwrap_or(0.0).trunc() as i64)),
                },
                Value::String(s) => {
                    s.trim().parse::<i64>().map(|i| json!(i)).map_err(|_| error("ValueError", format!("int({s:?})")))
                }
                other => Err(error("TypeError", format!("int() of a {}", type_name(other)))),
            }
        }
        "double" => {
            want(1)?;
            match &a[0] {
                Value::Number(n) => from_f64(n.as_f64().unwrap_or(0.0)),
                Value::String(s) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| error("ValueError", format!("double({s:?})")))
                    .and_then(from_f64),
                other => Err(error("TypeError", format!("double() of a {}", type_name(other)))),
            }
        }
        "sys.get_env" => {
            want(1)?;
            let Value::String(var) = &a[0] else {
                return Err(error("TypeError", "sys.get_env needs a string"));
            };
            scope
                .env(var)
                .map(Value::String)
                .ok_or_else(|| error("KeyError", format!("environment variable {var} is not set")))
        }
        "sys.now" => {
            want(0)?;
            let now = chrono::Utc::now();
            from_f64(now.timestamp_millis() as f64 / 1000.0)
        }
        "json.encode_to_string" => {
            want(1)?;
            Ok(Value::String(a[0].to_string()))
        }
        "json.decode" => {
            want(1)?;
            let Value::String(s) = &a[0] else {
                return Err(error("TypeError", "json.decode needs a string"));
            };
            serde_json::from_str(s).map_err(|e| error("ValueError", format!("json.decode: {e}")))
        }
        "text.to_lower" => {
            want(1)?;
            a[0].as_str()
                .map(|s| Value::String(s.to_lowercase()))
                .ok_or_else(|| error("TypeError", "text.to_lower needs a string"))
        }
        "text.split" => {
            want(2)?;
            match (&a[0], &a[1]) {
                (Value::String(s), Value::String(sep)) => {
                    Ok(Value::Array(s.split(sep.as_str()).map(|p| Value::String(p.to_owned())).collect()))
                }
                _ => Err(error("TypeError", "text.split needs two strings")),
            }
        }
        other => Err(error("TypeError", format!("unknown function {other}"))),
    }
}

/// The variables an expression reads, for checks (`Var` roots only).
pub fn free_vars(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Lit(_) => {}
        Expr::Var(v) => out.push(v.clone()),
        Expr::List(items) | Expr::Call(_, items) => items.iter().for_each(|i| free_vars(i, out)),
        Expr::Map(entries) => entries.iter().for_each(|(_, v)| free_vars(v, out)),
        Expr::Field(inner, _) | Expr::Neg(inner) | Expr::Not(inner) => free_vars(inner, out),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            free_vars(a, out);
            free_vars(b, out);
        }
    }
}

/// Renders the expression as a URL path pattern: string literals as they are, anything else as
/// `{}` (for the consistency check of the URLs workflows call).
pub fn render_pattern(e: &Expr) -> String {
    match e {
        Expr::Lit(Value::String(s)) => s.clone(),
        Expr::Binary(BinOp::Add, a, b) => format!("{}{}", render_pattern(a), render_pattern(b)),
        _ => "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Vars(BTreeMap<String, Value>);
    impl Scope for Vars {
        fn var(&self, name: &str) -> Option<&Value> {
            self.0.get(name)
        }
        fn env(&self, name: &str) -> Option<String> {
            (name == "AETHERVEIL_URL_API").then(|| "http://x".to_owned())
        }
    }

    fn run(src: &str) -> Result<Value, Value> {
        let vars = Vars(BTreeMap::from([
            ("m".to_owned(), json!({"a": {"b": [10, 20, 30]}, "s": "hi"})),
            ("n".to_owned(), json!(7)),
        ]));
        eval(&parse(src).expect("parses"), &vars)
    }

    #[test]
    fn arithmetic_follows_workflows_rules() {
        assert_eq!(run("1 + 2 * 3").expect("succeeds"), json!(7));
        assert_eq!(run("(1 + 2) * 3").expect("succeeds"), json!(9));
        assert_eq!(run("7 / 2").expect("succeeds"), json!(3.5));
        assert_eq!(run("7 // 2").expect("succeeds"), json!(3));
        assert_eq!(run("7 % 3").expect("succeeds"), json!(1));
        assert_eq!(run("-n + 1").expect("succeeds"), json!(-6));
        assert_eq!(run("1.5 * 2").expect("succeeds"), json!(3.0));
        assert_eq!(run("1 / 0").expect_err("fails")["tags"][0], "ZeroDivisionError");
        assert_eq!(run("\"a\" + 1").expect_err("fails")["tags"][0], "TypeError");
    }

    #[test]
    fn access_comparison_and_logic() {
        assert_eq!(run("m.a.b[1]").expect("succeeds"), json!(20));
        assert_eq!(run("m[\"a\"][\"b\"][-1]").expect("succeeds"), json!(30));
        assert_eq!(run("m.s + ' there'").expect("succeeds"), json!("hi there"));
        assert_eq!(run("n >= 7 and not (n == 8) or false").expect("succeeds"), json!(true));
        assert_eq!(run("20 in m.a.b").expect("succeeds"), json!(true));
        assert_eq!(run("\"s\" in m").expect("succeeds"), json!(true));
        assert_eq!(run("1 == 1.0").expect("succeeds"), json!(true));
        assert_eq!(run("m.missing").expect_err("fails")["tags"][0], "KeyError");
        assert_eq!(run("m.a.b[5]").expect_err("fails")["tags"][0], "IndexError");
        assert_eq!(run("n and true").expect_err("fails")["tags"][0], "TypeError");
    }

    #[test]
    fn functions() {
        assert_eq!(run("len(m.a.b)").expect("succeeds"), json!(3));
        assert_eq!(run("default(map.get(m, \"zz\"), 5)").expect("succeeds"), json!(5));
        assert_eq!(run("map.get(m, [\"a\", \"b\"])").expect("succeeds"), json!([10, 20, 30]));
        assert_eq!(run("string(n) + \"!\"").expect("succeeds"), json!("7!"));
        assert_eq!(run("int(\"42\") + int(2.9)").expect("succeeds"), json!(44));
        assert_eq!(run("sys.get_env(\"AETHERVEIL_URL_API\")").expect("succeeds"), json!("http://x"));
        assert_eq!(run("sys.get_env(\"NOPE\")").expect_err("fails")["tags"][0], "KeyError");
        assert_eq!(run("json.decode(json.encode_to_string({\"k\": [1]}))").expect("succeeds"), json!({"k": [1]}));
        assert_eq!(run("keys({\"x\": 1})").expect("succeeds"), json!(["x"]));
        assert_eq!(run("text.split(\"a/b\", \"/\")[1]").expect("succeeds"), json!("b"));
    }

    #[test]
    fn unsupported_functions_and_syntax_are_refused_when_parsed() {
        let e = parse("list.concat(a, b)").expect_err("fails");
        assert_eq!(e.construct.as_deref(), Some("function `list.concat`"));
        assert!(parse("a +").is_err());
        assert!(parse("a b").is_err());
        assert_eq!(parse("a ? b : c").expect_err("fails").construct.as_deref(), Some("character `?` in an expression"));
    }

    #[test]
    fn url_patterns_keep_literals() {
        let e = parse("api + \"/api/v1/diagnoses/\" + string(job) + \"/feedback\"").expect("succeeds");
        assert_eq!(render_pattern(&e), "{}/api/v1/diagnoses/{}/feedback");
    }
}
