//! The `read_replica_uris` and `read_replica_max_lag_ms` keys: read replicas beside the
//! primary of `database_uri` (PostgreSQL streaming replication).

use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::{DatabaseError, Dialect, ParsedUri, bad_value, bounded};

/// How long a read waits by default for a replica to replay the writes it must see.
pub(crate) const DEFAULT_MAX_LAG: Duration = Duration::from_millis(100);
/// The longest `read_replica_max_lag_ms`.
const MAX_LAG_MS: usize = 60_000;

/// The replicas' URLs (one per host) and their secrets, checked against the primary's dialect.
pub(crate) fn parse(
    value: &Value,
    dialect: Dialect,
) -> Result<(Vec<Url>, Vec<String>), DatabaseError> {
    let Value::Array(list) = value else {
        return Err(bad_value("read_replica_uris", value, "a list of URIs"));
    };
    if !dialect.is_postgres_wire() {
        return Err(DatabaseError::config(format!(
            "read_replica_uris: read replicas are supported on PostgreSQL (read-your-writes \
             follows its WAL positions), not on {dialect}"
        )));
    }
    let mut urls = Vec::new();
    let mut secrets = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let key = format!("read_replica_uris[{i}]");
        let Value::String(uri) = entry else {
            return Err(bad_value(&key, entry, "a URI string"));
        };
        let parsed = ParsedUri::parse(uri)
            .map_err(|e| DatabaseError::config(format!("{key}: {}", e.details())))?;
        if parsed.dialect != dialect {
            return Err(DatabaseError::config(format!(
                "{key} is a {} URI, but database_uri is {dialect}: a replica speaks the \
                 primary's dialect",
                parsed.dialect
            )));
        }
        urls.extend(parsed.urls);
        secrets.extend(parsed.secrets);
    }
    Ok((urls, secrets))
}

/// Reads `read_replica_max_lag_ms`.
pub(crate) fn max_lag(value: &Value) -> Result<Duration, DatabaseError> {
    let ms: u64 = bounded("read_replica_max_lag_ms", value, MAX_LAG_MS)?;
    Ok(Duration::from_millis(ms))
}
