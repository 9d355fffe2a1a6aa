//! Topologies shipped inside the binary, named `builtin:NAME`.

use crate::network::{LoadError, Network};

/// `(name, TOML text)` of every built-in topology.
pub const TOPOLOGIES: &[(&str, &str)] =
    &[("three-tier", include_str!("../topologies/three-tier.toml"))];

/// Loads `builtin:NAME` or a file path.
pub fn load(spec: &str) -> Result<Network, LoadError> {
    match spec.strip_prefix("builtin:") {
        Some(name) => {
            let (_, text) =
                TOPOLOGIES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or_else(|| LoadError::Syntax {
                        source_name: spec.to_owned(),
                        message: format!(
                            "no built-in topology '{name}' (there is: {})",
                            TOPOLOGIES
                                .iter()
                                .map(|(n, _)| format!("builtin:{n}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })?;
            Network::from_toml(text, spec)
        }
        None => Network::load(spec),
    }
}
