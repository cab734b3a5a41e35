//! Query parameters as dockerd reads them: booleans as `1`/`true`, and `filters`
//! as JSON (`{"key":["v"]}` or the older `{"key":{"v":true}}`), turned into the
//! `key=value` list the engine's filter parsers take from the CLI too.

use crate::ApiError;

/// A query string in order, repeated keys kept (`names=a&names=b`).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// The last value of `key` (dockerd's `r.Form.Get` takes the first; clients
    /// send each scalar once).
    pub fn get(&self, key: &str) -> Option<&String> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    #[cfg(test)]
    pub fn insert(&mut self, key: String, value: String) {
        self.0.retain(|(k, _)| *k != key);
        self.0.push((key, value));
    }
}

/// Every value of `key`, in order.
pub fn all(q: &Query, key: &str) -> Vec<String> {
    q.0.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

pub fn flag(q: &Query, key: &str) -> bool {
    matches!(
        q.get(key).map(String::as_str),
        Some("1" | "true" | "True" | "yes")
    )
}

pub fn filters(q: &Query) -> Result<Vec<String>, ApiError> {
    let Some(text) = q.get("filters").filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("invalid filter: {e}")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| ApiError::bad_request("invalid filter: not an object"))?;
    let mut out = Vec::new();
    for (k, v) in obj {
        let values: Vec<String> = match v {
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| ApiError::bad_request(format!("invalid filter '{k}'")))?,
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            _ => return Err(ApiError::bad_request(format!("invalid filter '{k}'"))),
        };
        out.extend(values.into_iter().map(|v| format!("{k}={v}")));
    }
    Ok(out)
}

/// dockerd's filter rule: values of one key are alternatives, every key must
/// pass. `test` gets each key with its values.
pub fn all_keys_match(
    filters: &[String],
    mut test: impl FnMut(&str, &[&str]) -> Result<bool, ApiError>,
) -> Result<bool, ApiError> {
    let mut by_key: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for f in filters {
        let (k, v) = f.split_once('=').unwrap_or((f, ""));
        by_key.entry(k).or_default().push(v);
    }
    for (k, vals) in by_key {
        if !test(k, &vals)? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filter_shapes() {
        let mut q = Query::default();
        q.insert(
            "filters".into(),
            r#"{"reference":["busybox"],"dangling":{"true":true}}"#.into(),
        );
        let mut f = filters(&q).unwrap();
        f.sort();
        assert_eq!(f, vec!["dangling=true", "reference=busybox"]);
        q.insert("filters".into(), "[1]".into());
        assert!(filters(&q).is_err());
    }
}
