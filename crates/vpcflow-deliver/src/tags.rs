//! EC2's tags on flow logs: CreateTags, DeleteTags and DescribeTags as AWS checks and answers
//! them, over the tags each stored flow log carries (`FlowLog::tags`, set at creation by
//! `TagSpecification`). Pure: the store applies the changes (`State::create_tags`,
//! `State::delete_tags`). DescribeTags lists the network's resources' tags beside the flow
//! logs' (`describe_tag_list`); those are changed by `resources::actions`.

use std::collections::BTreeMap;

use crate::api::{ApiError, ErrorKind, FlowLog};
use crate::describe::glob;

/// The most tags one resource carries (AWS's quota).
pub const MAX_TAGS: usize = 50;
/// DescribeTags' page size: at most, and without MaxResults.
pub const MAX_RESULTS: usize = 1000;
/// DescribeTags' smallest MaxResults.
pub const MIN_RESULTS: i64 = 5;
/// The resource type of flow logs.
pub const RESOURCE_TYPE: &str = "vpc-flow-log";

/// One tag of one resource, as DescribeTags lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDescription {
    /// The flow log.
    pub resource_id: String,
    /// Always `vpc-flow-log`.
    pub resource_type: &'static str,
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// DescribeTags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeTags {
    /// `key`, `value`, `resource-id`, `resource-type` (wildcards `*` and `?`).
    pub filters: Vec<crate::describe::Filter>,
    /// 5–1000.
    pub max_results: Option<i64>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// A page of tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagsPage {
    /// By resource, then key.
    pub tags: Vec<TagDescription>,
    /// Absent on the last page.
    pub next_token: Option<String>,
}

/// A tag's own rules (key 1–127 characters, not `aws:`, value up to 256).
pub fn check_tag(key: &str, value: &str) -> Result<(), ApiError> {
    let invalid = |m: String| ApiError::new(ErrorKind::InvalidParameterValue, m);
    if key.is_empty() || key.chars().count() > crate::api::MAX_TAG_KEY {
        return Err(invalid(format!(
            "Tag key '{key}' must be 1 to {} characters",
            crate::api::MAX_TAG_KEY
        )));
    }
    if key.starts_with("aws:") {
        return Err(invalid(format!(
            "Tag key '{key}': keys beginning with 'aws:' are reserved for AWS use"
        )));
    }
    if value.chars().count() > crate::api::MAX_TAG_VALUE {
        return Err(invalid(format!(
            "Tag value of '{key}' must be at most {} characters",
            crate::api::MAX_TAG_VALUE
        )));
    }
    Ok(())
}

/// The ids must all be flow logs that exist (`existing`): AWS's not-found error names those
/// that are not; an id that is no flow log's at all is `InvalidID`.
pub fn check_ids(ids: &[String], existing: &[FlowLog]) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Err(ApiError::new(
            ErrorKind::MissingParameter,
            "The request must contain the parameter resourceIdSet",
        ));
    }
    if let Some(other) = ids.iter().find(|id| !id.starts_with("fl-")) {
        return Err(ApiError::new(
            ErrorKind::InvalidId,
            format!("The ID '{other}' is not valid: vpcflow tags flow logs (fl-…) only"),
        ));
    }
    crate::api::check_delete(ids, existing)
}

/// The tags `f` carries after CreateTags adds `tags` (a key given again takes the new value).
pub fn with_tags(f: &FlowLog, tags: &BTreeMap<String, String>) -> Result<FlowLog, ApiError> {
    for (k, v) in tags {
        check_tag(k, v)?;
    }
    let mut out = f.clone();
    out.tags
        .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    if out.tags.len() > MAX_TAGS {
        return Err(ApiError::new(
            ErrorKind::TagLimitExceeded,
            format!(
                "The maximum number of Tags for a resource has been reached (limit {MAX_TAGS})."
            ),
        ));
    }
    Ok(out)
}

/// The tags `f` carries after DeleteTags: a key with no value goes whatever its value; with a
/// value, only if the value matches.
pub fn without_tags(f: &FlowLog, tags: &[(String, Option<String>)]) -> FlowLog {
    let mut out = f.clone();
    for (k, v) in tags {
        if v.as_ref().is_none_or(|v| out.tags.get(k) == Some(v)) {
            out.tags.remove(k);
        }
    }
    out
}

/// The page of tags `req` asks for, over the flow logs `existing` (in id order).
pub fn describe_tags(req: &DescribeTags, existing: &[FlowLog]) -> Result<TagsPage, ApiError> {
    describe_tag_list(req, of_flow_logs(existing))
}

/// The tags of the flow logs `existing`, as DescribeTags lists them.
pub fn of_flow_logs(existing: &[FlowLog]) -> Vec<TagDescription> {
    existing
        .iter()
        .flat_map(|f| {
            f.tags.iter().map(|(k, v)| TagDescription {
                resource_id: f.flow_log_id.clone(),
                resource_type: RESOURCE_TYPE,
                key: k.clone(),
                value: v.clone(),
            })
        })
        .collect()
}

/// The page of tags `req` asks for, over `all` the tags of the caller's resources (flow logs
/// and the network's), in any order.
pub fn describe_tag_list(
    req: &DescribeTags,
    mut all: Vec<TagDescription>,
) -> Result<TagsPage, ApiError> {
    let size = match req.max_results {
        None => MAX_RESULTS,
        Some(n) if (MIN_RESULTS..=MAX_RESULTS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::new(
                ErrorKind::InvalidParameterValue,
                format!(
                    "Value ( {n} ) for parameter maxResults is invalid. Expecting a value \
                     between {MIN_RESULTS} and {MAX_RESULTS}."
                ),
            ));
        }
    };
    for f in &req.filters {
        if !matches!(
            f.name.as_str(),
            "key" | "value" | "resource-id" | "resource-type"
        ) {
            return Err(ApiError::new(
                ErrorKind::InvalidParameterValue,
                format!("The filter '{}' is invalid", f.name),
            ));
        }
    }
    let after = req.next_token.as_deref();
    let token = |t: &TagDescription| format!("{}/{}", t.resource_id, t.key);
    all.sort_by_key(token);
    let mut matching = all
        .into_iter()
        .filter(|t| after.is_none_or(|a| token(t).as_str() > a))
        .filter(|t| {
            req.filters.iter().all(|f| {
                let field = match f.name.as_str() {
                    "key" => &t.key,
                    "value" => &t.value,
                    "resource-id" => &t.resource_id,
                    _ => t.resource_type,
                };
                f.values.iter().any(|p| glob(p, field))
            })
        });
    let tags: Vec<TagDescription> = matching.by_ref().take(size).collect();
    let next_token = match (matching.next(), tags.last()) {
        (Some(_), Some(last)) => Some(token(last)),
        _ => None,
    };
    Ok(TagsPage { tags, next_token })
}
