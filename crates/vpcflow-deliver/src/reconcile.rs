//! Reconciling `vpcflow.toml`'s `[[flow_logs]]` with the flow logs in `state.db`, as a
//! declarative tool would through the API: each entry is a CreateFlowLogs request whose client
//! token is a hash of the entry, so an entry seen before keeps its flow log and an edited entry is
//! a new one; config-made flow logs whose entry is gone are deleted. Flow logs made otherwise (the
//! API) are left alone. The CLI and the service both start from here.

use vpcflow_net::Network;

use crate::api::{ApiError, FlowLog, stable_hash};
use crate::config::DeliveryConfig;
use crate::state::{RequestError, State, StateError};

/// The client tokens of config-made flow logs start with this; the rest is the entry's hash.
pub const CONFIG_TOKEN_PREFIX: &str = "vpcflow-config-";

/// One `[[flow_logs]]` entry AWS would refuse, whole or for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The entry's index in `[[flow_logs]]`.
    pub index: usize,
    /// The resource refused, when the rest of the entry was made.
    pub resource: Option<String>,
    /// AWS's error.
    pub error: ApiError,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "flow_logs[{}]: ", self.index)?;
        if let Some(r) = &self.resource {
            write!(f, "{r}: ")?;
        }
        write!(f, "{}: {}", self.error.kind.code(), self.error.message)?;
        if let Some(d) = &self.error.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// Why the config's flow logs could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Entries AWS would refuse: the config's fault. Nothing was deleted.
    #[error("{} flow log entries refused", .0.len())]
    Refused(Vec<Refusal>),
    /// The database failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Makes `state` hold `config`'s flow logs; returns every flow log that exists afterwards.
pub fn reconcile(
    state: &mut State,
    config: &DeliveryConfig,
    network: &Network,
    now_ms: u64,
) -> Result<Vec<FlowLog>, ReconcileError> {
    let (buckets, streams) = (config.bucket_names(), config.stream_names());
    let mut wanted = Vec::new();
    let mut refused = Vec::new();
    for (index, req) in config.flow_logs.iter().enumerate() {
        let mut req = req.clone();
        if req.client_token.is_none() {
            req.client_token = Some(config_token(&req));
        }
        wanted.push(req.client_token.clone().expect("set above"));
        match state.create_flow_logs(&req, network, &buckets, &streams, now_ms) {
            Ok(created) => refused.extend(created.unsuccessful.into_iter().map(
                |(resource, error)| Refusal {
                    index,
                    resource: Some(resource),
                    error,
                },
            )),
            Err(RequestError::Api(error)) => refused.push(Refusal {
                index,
                resource: None,
                error,
            }),
            Err(RequestError::State(e)) => return Err(e.into()),
        }
    }
    if !refused.is_empty() {
        return Err(ReconcileError::Refused(refused));
    }
    for req in &config.flow_logs {
        if let Some(arn) = &req.deliver_logs_permission_arn {
            provide_role(state, arn, now_ms)?;
        }
    }
    let stale: Vec<String> = state
        .client_tokens()?
        .into_iter()
        .filter(|(t, _)| t.starts_with(CONFIG_TOKEN_PREFIX) && !wanted.contains(t))
        .flat_map(|(_, ids)| ids)
        .collect();
    for id in stale {
        match state.delete_flow_logs(std::slice::from_ref(&id)) {
            // NotFound: another process deleted it meanwhile, which is what was wanted.
            Ok(()) | Err(RequestError::Api(_)) => {}
            Err(RequestError::State(e)) => return Err(e.into()),
        }
    }
    Ok(state.flow_logs()?)
}

/// The delivery role a config's flow log names, made when it does not exist: the config is its
/// operator's word that the role is there (a flow log made through the API needs the role made
/// through IAM first, as in AWS). It trusts `vpc-flow-logs.amazonaws.com` and allows what flow
/// logs do in log groups. A role that exists is left as it is.
fn provide_role(state: &State, arn: &str, now_ms: u64) -> Result<(), StateError> {
    let Some(role) = crate::iam::delivery_role(arn, now_ms) else {
        return Ok(());
    };
    if state
        .roles(Some(&role.account))?
        .iter()
        .any(|r| r.arn() == arn)
    {
        return Ok(());
    }
    state.put_role(&role)
}

/// The client token of a config entry that has none: a hash of the entry.
fn config_token(req: &crate::api::CreateFlowLogs) -> String {
    let body = serde_json::to_string(req).expect("requests serialize");
    format!(
        "{CONFIG_TOKEN_PREFIX}{:016x}",
        stable_hash(&[body.as_bytes()])
    )
}
