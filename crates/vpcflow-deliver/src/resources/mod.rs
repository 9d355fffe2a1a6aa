//! The EC2 network resources made through the API: VPCs, subnets, security groups, network
//! ACLs, route tables, internet and NAT gateways, Elastic IPs, network interfaces and instances.
//!
//! Owns the document they are kept in ([`Made`]: a fragment of the topology, in the topology
//! file's own model, so that the file and the API write one model), how it joins the file's
//! topology ([`merged`]: the file's resources first, then the API's in the order they were
//! made), and the ids the API gives (`vpc-` and 17 hex digits, the same for the same history).
//! What each action does and refuses is [`actions`]'; where the document is stored is
//! `state.db`'s (`crate::state`), and the running service's current network is [`live`]'s.

pub mod actions;
#[cfg(feature = "runtime")]
pub mod live;

use serde::{Deserialize, Serialize};
use vpcflow_net::Network;
pub use vpcflow_net::model::Topology;

use crate::api::{ApiError, ErrorKind};
use crate::topology::derived_id;

/// The resources made through the API, and how many ids it has given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Made {
    /// Ids given so far: the next id is made from this count.
    pub seq: u64,
    /// The resources, in the topology file's model (its region is the file's, not kept here).
    pub topology: Topology,
}

impl Made {
    /// A new id of `prefix`, never given before in this data directory.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        derived_id(prefix, &["made", &self.seq.to_string()])
    }

    /// Whether the API made `id` (the topology file's resources are changed in the file).
    pub fn made(&self, id: &str) -> bool {
        let t = &self.topology;
        t.vpcs.iter().any(|r| r.id == id)
            || t.subnets.iter().any(|r| r.id == id)
            || t.route_tables.iter().any(|r| r.id == id)
            || t.gateways.iter().any(|r| r.id == id)
            || t.network_acls.iter().any(|r| r.id == id)
            || t.security_groups.iter().any(|r| r.id == id)
            || t.enis.iter().any(|r| r.id == id)
            || t.instances.iter().any(|r| r.id == id)
            || t.addresses.iter().any(|r| r.id == id)
    }

    /// The document as `state.db` keeps it.
    #[cfg(feature = "runtime")]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the document serializes")
    }

    /// The document `state.db` kept.
    #[cfg(feature = "runtime")]
    pub fn from_json(text: &str) -> Result<Made, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The file's topology with the API's resources after its own; accounts joined.
pub fn merged(base: &Topology, made: &Topology) -> Topology {
    let mut t = base.clone();
    for a in &made.accounts {
        if !t.accounts.iter().any(|b| b.id == a.id) {
            t.accounts.push(a.clone());
        }
    }
    t.vpcs.extend(made.vpcs.iter().cloned());
    t.subnets.extend(made.subnets.iter().cloned());
    t.route_tables.extend(made.route_tables.iter().cloned());
    t.gateways.extend(made.gateways.iter().cloned());
    t.network_acls.extend(made.network_acls.iter().cloned());
    t.security_groups
        .extend(made.security_groups.iter().cloned());
    t.prefix_lists.extend(made.prefix_lists.iter().cloned());
    t.enis.extend(made.enis.iter().cloned());
    t.instances.extend(made.instances.iter().cloned());
    t.addresses.extend(made.addresses.iter().cloned());
    t
}

/// The network of the file's topology and the API's resources. The actions keep the model
/// valid, so a problem here is vpcflow's fault, said as such.
pub fn build(base: &Topology, made: &Made) -> Result<Network, ApiError> {
    Network::build(&merged(base, &made.topology)).map_err(|p| {
        ApiError::new(
            ErrorKind::InternalError,
            format!("the network the API made does not validate (a vpcflow bug): {p}"),
        )
    })
}

/// The live model as a topology file: what `vpcflow topology export` writes.
pub fn to_toml(t: &Topology) -> String {
    toml::to_string(t).expect("a topology serializes as TOML")
}

#[cfg(all(test, feature = "runtime"))]
pub(crate) mod tests;
