//! The `read_replica_uris` and `read_replica_max_lag_ms` keys: read replicas beside the
//! primary of `database_uri` (PostgreSQL streaming replication).

use url::Url;

use super::uri::ParsedUri;
use crate::async_database_functions::core::error::DatabaseError;
use crate::async_database_functions::core::sql_dialect::Dialect;

/// How long (ms) a read waits by default for a replica to replay the writes it must see.
pub(super) const DEFAULT_MAX_LAG_MS: usize = 100;
/// The longest `read_replica_max_lag_ms`.
pub(super) const MAX_LAG_MS: usize = 60_000;

/// The replicas' URLs (one per host) and their secrets, checked against the primary's dialect.
pub(super) fn parse(
    uris: &[String],
    dialect: Dialect,
) -> Result<(Vec<Url>, Vec<String>), DatabaseError> {
    if !dialect.is_postgres_wire() {
        return Err(DatabaseError::config(format!(
            "read_replica_uris: read replicas are supported on PostgreSQL (read-your-writes \
             follows its WAL positions), not on {dialect}"
        )));
    }
    let mut urls = Vec::new();
    let mut secrets = Vec::new();
    for (i, uri) in uris.iter().enumerate() {
        let key = format!("read_replica_uris[{i}]");
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
