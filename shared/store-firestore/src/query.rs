//! [`aetherveil_store::Query`] as a Firestore structured query on the data field `d`.

use crate::codec;
use aetherveil_store::{Op, Order, Query, Result, StoreError};
use firestore::gcloud_sdk::google::firestore::v1::StructuredQuery;
use firestore::gcloud_sdk::google::firestore::v1::structured_query::{
    CollectionSelector, CompositeFilter, Direction, FieldFilter, FieldReference, Filter, Order as FsOrder, UnaryFilter,
    composite_filter, field_filter, filter::FilterType, unary_filter,
};

/// Field paths are dotted `[A-Za-z0-9_]` segments, as the SQLite store accepts.
pub(crate) fn valid_field(field: &str) -> bool {
    !field.is_empty()
        && field.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

fn field(dotted: &str) -> Result<FieldReference> {
    if !valid_field(dotted) {
        return Err(StoreError::Invalid(format!("bad field name {dotted:?}")));
    }
    Ok(FieldReference { field_path: codec::field_path(crate::DATA, dotted) })
}

/// The structured query over `collection` that answers `query`. Without an ordering, documents
/// come in document-id order, as Firestore returns them by default.
pub(crate) fn structured(collection: &str, query: &Query) -> Result<StructuredQuery> {
    let mut filters = Vec::with_capacity(query.filters.len());
    for f in &query.filters {
        let field = field(&f.field)?;
        let filter_type = if f.value.is_null() {
            if f.op != Op::Eq {
                return Err(StoreError::Invalid("null only compares with Eq".into()));
            }
            FilterType::UnaryFilter(UnaryFilter {
                op: unary_filter::Operator::IsNull as i32,
                operand_type: Some(unary_filter::OperandType::Field(field)),
            })
        } else {
            let op = match f.op {
                Op::Eq => field_filter::Operator::Equal,
                Op::Lt => field_filter::Operator::LessThan,
                Op::Le => field_filter::Operator::LessThanOrEqual,
                Op::Gt => field_filter::Operator::GreaterThan,
                Op::Ge => field_filter::Operator::GreaterThanOrEqual,
            };
            FilterType::FieldFilter(FieldFilter {
                field: Some(field),
                op: op as i32,
                value: Some(codec::to_firestore(&f.value)),
            })
        };
        filters.push(Filter { filter_type: Some(filter_type) });
    }
    let r#where = match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Filter {
            filter_type: Some(FilterType::CompositeFilter(CompositeFilter {
                op: composite_filter::Operator::And as i32,
                filters,
            })),
        }),
    };
    let order_by = match &query.order_by {
        Some((dotted, order)) => {
            let direction = match order {
                Order::Asc => Direction::Ascending,
                Order::Desc => Direction::Descending,
            };
            vec![FsOrder { field: Some(field(dotted)?), direction: direction as i32 }]
        }
        None => Vec::new(),
    };
    Ok(StructuredQuery {
        select: None,
        from: vec![CollectionSelector { collection_id: collection.to_owned(), all_descendants: false }],
        r#where,
        order_by,
        start_at: None,
        end_at: None,
        offset: 0,
        limit: query.limit.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
        find_nearest: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_anded_on_the_data_field() {
        let q = Query::new().eq("repo", "o/a").filter("meta.n", Op::Ge, 3).order_by("n", Order::Desc).limit(2);
        let s = structured("runs", &q).expect("query");
        assert_eq!(s.from[0].collection_id, "runs");
        assert_eq!(s.limit, Some(2));
        assert_eq!(s.order_by[0].field.as_ref().map(|f| f.field_path.as_str()), Some("d.n"));
        let Some(Filter { filter_type: Some(FilterType::CompositeFilter(c)) }) = &s.r#where else {
            panic!("expected a composite filter, got {:?}", s.r#where);
        };
        assert_eq!(c.filters.len(), 2);
        let Some(FilterType::FieldFilter(second)) = &c.filters[1].filter_type else { panic!("field filter") };
        assert_eq!(second.field.as_ref().map(|f| f.field_path.as_str()), Some("d.meta.n"));
        assert_eq!(second.op, field_filter::Operator::GreaterThanOrEqual as i32);
    }

    #[test]
    fn null_equality_is_an_is_null_filter_and_other_null_comparisons_are_refused() {
        let s = structured("runs", &Query::new().eq("x", serde_json::Value::Null)).expect("query");
        assert!(matches!(s.r#where, Some(Filter { filter_type: Some(FilterType::UnaryFilter(_)) })));
        let q = Query::new().filter("x", Op::Lt, serde_json::Value::Null);
        assert!(matches!(structured("runs", &q), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn bad_field_names_are_refused() {
        let q = Query::new().eq("x') OR ('1'='1", 1);
        assert!(matches!(structured("runs", &q), Err(StoreError::Invalid(_))));
        assert!(matches!(structured("runs", &Query::new().order_by("a..b", Order::Asc)), Err(StoreError::Invalid(_))));
    }
}
