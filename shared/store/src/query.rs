use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// A comparison on one field; `field` is a dotted path into the document (`repo`, `a.b`).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: String,
    pub op: Op,
    pub value: Value,
}

/// A simple query: conjunction of filters, one optional ordering, a limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub filters: Vec<Filter>,
    pub order_by: Option<(String, Order)>,
    pub limit: Option<usize>,
}

impl Query {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn filter(mut self, field: &str, op: Op, value: impl Into<Value>) -> Self {
        self.filters.push(Filter { field: field.into(), op, value: value.into() });
        self
    }

    pub fn eq(self, field: &str, value: impl Into<Value>) -> Self {
        self.filter(field, Op::Eq, value)
    }

    pub fn order_by(mut self, field: &str, order: Order) -> Self {
        self.order_by = Some((field.into(), order));
        self
    }

    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }
}

/// Field paths are spliced into backend queries, so they are restricted to a safe alphabet.
pub(crate) fn valid_field(field: &str) -> bool {
    !field.is_empty()
        && field.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}
