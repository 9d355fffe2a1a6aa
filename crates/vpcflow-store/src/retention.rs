//! CloudWatch Logs' retention values: the one list that `[[log_groups]]`, PutRetentionPolicy and
//! delivery's expiry all check against. Outside `logs` so that the config's checks build
//! without the database.

/// The allowed `retentionInDays` values.
pub const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
