//! The running service's network: the topology file's resources and the API's, as one
//! [`Network`] that every part of the service reads ([`LiveNetwork::network`]) and the EC2
//! actions change ([`LiveNetwork::act`]). Owns the order of a change: the action is applied to
//! a copy, the network it makes is built, the document is kept in `state.db`, and only then is
//! the new network the current one; a change that fails at any step leaves everything as it was.

use std::sync::{Arc, RwLock};

use vpcflow_net::Network;

use super::Made;
use super::actions::{Action, Answer, Ctx, apply};
use crate::api::ApiError;
use crate::state::{RequestError, State, StateError};

/// The API's resources in `state.db` do not fit the topology file any more.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The database failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The kept document does not read.
    #[error("the network resources the API made (state.db) do not read: {0}")]
    Unreadable(String),
    /// The kept resources and the file's do not make one network.
    #[error(
        "the network resources the API made (state.db) no longer fit the topology file: {0}; \
         restore the file's resources they use, or use another --data"
    )]
    Misfit(String),
}

struct Current {
    made: Made,
    revision: u64,
    network: Arc<Network>,
}

/// The network as it is now, and its changes.
pub struct LiveNetwork {
    base: Arc<Network>,
    current: RwLock<Current>,
}

impl LiveNetwork {
    /// The network of the topology file `base` and the resources `state` keeps.
    pub fn open(base: Arc<Network>, state: &State) -> Result<LiveNetwork, LiveError> {
        let (made, revision) = match state.made_network()? {
            Some((revision, body)) => (
                Made::from_json(&body).map_err(|e| LiveError::Unreadable(e.to_string()))?,
                revision,
            ),
            None => (Made::default(), 0),
        };
        let network = if revision == 0 {
            Arc::clone(&base)
        } else {
            Arc::new(
                Network::build(&super::merged(&base.topology, &made.topology))
                    .map_err(|p| LiveError::Misfit(p.to_string()))?,
            )
        };
        Ok(LiveNetwork {
            base,
            current: RwLock::new(Current {
                made,
                revision,
                network,
            }),
        })
    }

    /// A network nothing changes (no API; tests).
    pub fn fixed(base: Arc<Network>) -> LiveNetwork {
        LiveNetwork {
            current: RwLock::new(Current {
                made: Made::default(),
                revision: 0,
                network: Arc::clone(&base),
            }),
            base,
        }
    }

    /// The network now.
    pub fn network(&self) -> Arc<Network> {
        Arc::clone(&self.read().network)
    }

    /// How many changes it has had (0: the file's alone).
    pub fn revision(&self) -> u64 {
        self.read().revision
    }

    /// The network now and its revision, read together.
    pub fn snapshot(&self) -> (u64, Arc<Network>) {
        let c = self.read();
        (c.revision, Arc::clone(&c.network))
    }

    /// The API's resources now.
    pub fn made(&self) -> Made {
        self.read().made.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `action` would succeed for `account` (DryRun), changing nothing.
    pub fn check(&self, account: &str, now_ms: u64, action: &Action) -> Result<(), ApiError> {
        let c = self.read();
        let ctx = Ctx {
            base: &self.base.topology,
            account,
            now_ms,
        };
        apply(&c.made, ctx, action).map(|_| ())
    }

    /// Does `action` for `account`: kept in `state` before it is the network.
    pub fn act(
        &self,
        state: &State,
        account: &str,
        now_ms: u64,
        action: &Action,
    ) -> Result<Answer, RequestError> {
        let mut c = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ctx = Ctx {
            base: &self.base.topology,
            account,
            now_ms,
        };
        let applied = apply(&c.made, ctx, action)?;
        let revision = c.revision + 1;
        state.keep_made_network(revision, &applied.made.to_json())?;
        *c = Current {
            made: applied.made,
            revision,
            network: Arc::new(applied.network),
        };
        Ok(applied.answer)
    }
}
