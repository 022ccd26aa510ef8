//! `null` read as the default value: scanners write `"Vulnerabilities": null` as readily as they
//! omit the field.

use serde::{Deserialize, Deserializer};

pub(crate) fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
