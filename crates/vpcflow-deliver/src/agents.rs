//! Which capture agent owns which ENIs (`[[agents]]` of vpcflow.toml): many `vpcflow capture`,
//! `simulate` or `up` processes, one per host, deliver the same flow logs into one bucket, each
//! the records of its own ENIs, with no calls between them and no lock in the bucket.
//!
//! Owns the table's checks (an ENI has one owner: two agents claiming it is an error naming
//! both), the ENIs an agent records ([`owned`]), and the check that a capture maps only ENIs
//! its agent owns ([`check_mapped`]). What makes the agents' objects safe side by side is the
//! object names (docs/scale.md, "Agents into one bucket"): an agent's name is part of its run
//! key, and the run key is part of every object's hash, so two agents never write one key; a
//! restarted agent makes the same names again, so what it delivers twice replaces itself.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use vpcflow_net::Network;

/// One agent: its name (what `--agent` says) and the ENIs whose records it makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Letters, digits, `.`, `_` and `-`; unique in the table.
    pub name: String,
    /// `eni-…` ids of the topology.
    pub enis: Vec<String>,
}

/// Checks the table with no I/O: every problem as (key path, reason).
pub fn check(agents: &[AgentConfig]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, a) in agents.iter().enumerate() {
        let at = format!("agents[{i}]");
        let good = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if a.name.is_empty() || a.name.len() > 64 || !a.name.chars().all(good) {
            out.push((
                format!("{at}.name"),
                format!(
                    "'{}' is not an agent name (1 to 64 letters, digits, '.', '_' or '-')",
                    a.name
                ),
            ));
        }
        if let Some(j) = agents[..i].iter().position(|b| b.name == a.name) {
            out.push((
                format!("{at}.name"),
                format!("'{}' is also the name of agents[{j}]", a.name),
            ));
        }
        for (k, eni) in a.enis.iter().enumerate() {
            let here = format!("{at}.enis[{k}]");
            if !eni.starts_with("eni-") {
                out.push((here, format!("'{eni}' is not an ENI id (eni-…)")));
            } else if let Some(j) = a.enis[..k].iter().position(|e| e == eni) {
                out.push((here, format!("'{eni}' is listed twice (enis[{j}])")));
            } else if let Some((j, b)) = agents[..i]
                .iter()
                .enumerate()
                .find(|(_, b)| b.enis.contains(eni))
            {
                out.push((
                    here,
                    format!(
                        "'{eni}' is claimed by agent '{}' (agents[{j}]) and agent '{}': an ENI \
                         has one owner",
                        b.name, a.name
                    ),
                ));
            }
        }
    }
    out
}

/// Why an agent cannot run as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// `--agent` names no agent of the table.
    #[error("--agent {name}: no such agent in the config's [[agents]] (it has: {known})")]
    Unknown {
        /// The name given.
        name: String,
        /// The names there are (or "none").
        known: String,
    },
    /// The table names an ENI the topology does not have.
    #[error("agent '{agent}' claims {eni}, which is not an ENI of the topology")]
    NoSuchEni {
        /// The agent.
        agent: String,
        /// The ENI.
        eni: String,
    },
    /// A capture maps traffic onto an ENI its agent does not own.
    #[error(
        "{eni} is {}, not by agent '{agent}': a capture agent records only the ENIs it owns",
        match owner { Some(o) => format!("owned by agent '{o}'"), None => "owned by no agent".to_owned() }
    )]
    NotOwned {
        /// The ENI.
        eni: String,
        /// The agent that was to record it.
        agent: String,
        /// Who owns it.
        owner: Option<String>,
    },
}

/// The part of a replayable run's key (simulate, capture of a file) that says agent `name` made
/// it: with it in the key, the hash in every object name differs from every other agent's and
/// equals the agent's own on a replay.
pub fn run_key_part(name: &str) -> String {
    format!("agent={name}")
}

/// The name of live source `what` (a run that cannot be replayed) on agent `agent`: agents
/// starting in the same millisecond still deliver under names of their own.
pub fn source_name(agent: Option<&str>, what: &str) -> String {
    match agent {
        Some(a) => format!("{what}-{a}-"),
        None => what.to_owned(),
    }
}

/// The ENIs agent `name` records, each an ENI of `net`.
pub fn owned(
    agents: &[AgentConfig],
    name: &str,
    net: &Network,
) -> Result<BTreeSet<String>, AgentError> {
    let Some(agent) = agents.iter().find(|a| a.name == name) else {
        let known: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
        return Err(AgentError::Unknown {
            name: name.to_owned(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        });
    };
    if let Some(eni) = agent
        .enis
        .iter()
        .find(|e| !net.enis.iter().any(|n| &n.id == *e))
    {
        return Err(AgentError::NoSuchEni {
            agent: name.to_owned(),
            eni: eni.clone(),
        });
    }
    Ok(agent.enis.iter().cloned().collect())
}

/// Every ENI of `mapped` (what a capture maps its traffic onto) is one agent `name` owns.
pub fn check_mapped<'a>(
    agents: &[AgentConfig],
    name: &str,
    mapped: impl IntoIterator<Item = &'a str>,
) -> Result<(), AgentError> {
    for eni in mapped {
        let owner = agents.iter().find(|a| a.enis.iter().any(|e| e == eni));
        if owner.is_none_or(|o| o.name != name) {
            return Err(AgentError::NotOwned {
                eni: eni.to_owned(),
                agent: name.to_owned(),
                owner: owner.map(|o| o.name.clone()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str, enis: &[&str]) -> AgentConfig {
        AgentConfig {
            name: name.to_owned(),
            enis: enis.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    #[test]
    fn an_eni_claimed_twice_names_both_agents() {
        let problems = check(&[
            agent("host-a", &["eni-1", "eni-2"]),
            agent("host-b", &["eni-3", "eni-2"]),
        ]);
        assert_eq!(
            problems,
            vec![(
                "agents[1].enis[1]".to_owned(),
                "'eni-2' is claimed by agent 'host-a' (agents[0]) and agent 'host-b': an ENI \
                 has one owner"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn bad_names_and_ids_are_each_said() {
        let problems = check(&[
            agent("a b", &["eni-1", "eni-1", "i-1"]),
            agent("ok", &[]),
            agent("ok", &[]),
        ]);
        let at: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            at,
            [
                "agents[0].name",
                "agents[0].enis[1]",
                "agents[0].enis[2]",
                "agents[2].name"
            ]
        );
        assert!(check(&[agent("host-a", &["eni-1"]), agent("host-b", &["eni-2"])]).is_empty());
    }

    #[test]
    fn a_capture_maps_only_its_own_enis() {
        let agents = [agent("a", &["eni-1"]), agent("b", &["eni-2"])];
        assert_eq!(check_mapped(&agents, "a", ["eni-1"]), Ok(()));
        let e = check_mapped(&agents, "a", ["eni-1", "eni-2"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "eni-2 is owned by agent 'b', not by agent 'a': a capture agent records only the \
             ENIs it owns"
        );
        let e = check_mapped(&agents, "a", ["eni-9"]).unwrap_err();
        assert!(e.to_string().contains("owned by no agent"), "{e}");
    }

    #[test]
    fn an_agent_records_its_enis_of_the_topology() {
        let net = vpcflow_net::builtin::load("builtin:three-tier").unwrap();
        let ids: Vec<String> = net.enis.iter().take(2).map(|e| e.id.clone()).collect();
        let agents = [AgentConfig {
            name: "a".into(),
            enis: ids.clone(),
        }];
        assert_eq!(
            owned(&agents, "a", &net).unwrap(),
            ids.iter().cloned().collect()
        );
        assert!(matches!(
            owned(&agents, "b", &net),
            Err(AgentError::Unknown { known, .. }) if known == "a"
        ));
        let agents = [agent("a", &["eni-0000000000000dead"])];
        assert!(matches!(
            owned(&agents, "a", &net),
            Err(AgentError::NoSuchEni { .. })
        ));
    }
}
