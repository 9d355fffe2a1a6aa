//! `vpcflow topology export`: the live network model as a topology file. What the topology file
//! holds and the resources the EC2 API made in the data directory are one model
//! (`vpcflow_deliver::resources`); this writes it back in the file's own format, which every
//! command that takes `--topology` reads (`vpcflow lab up` included).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use vpcflow_deliver::resources::{Made, merged, to_toml};
use vpcflow_net::builtin;
use vpcflow_store::DataDir;

use crate::delivery::load_config;

/// `vpcflow topology …`.
#[derive(Subcommand, Debug)]
pub(crate) enum TopologyCommand {
    /// Print the live network as a topology file: the topology's resources and those the EC2
    /// API made in --data, as one TOML document.
    #[command(after_help = "\
The topology is --topology, else the config's, else builtin:three-tier; the resources made
through the EC2 API (CreateVpc, CreateSubnet, RunInstances, …) are read from DATA/state.db and
written after the topology's own, in the order they were made. The output reads back as a
topology anywhere one is taken:

Examples:
  vpcflow topology export --data vpcflow-data > live.toml
  sudo vpcflow lab up --topology live.toml")]
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// Topology: a TOML file, or builtin:NAME. [default: the config's topology, else
    /// builtin:three-tier]
    #[arg(long, value_name = "FILE|builtin:NAME")]
    topology: Option<String>,
    /// The config (vpcflow.toml) naming the topology.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data directory whose API-made resources are exported.
    #[arg(long, value_name = "DIR", default_value = "vpcflow-data")]
    data: PathBuf,
}

pub(crate) fn run(cmd: &TopologyCommand) -> anyhow::Result<()> {
    let TopologyCommand::Export(args) = cmd;
    let file = load_config(args.config.as_deref())?;
    let spec = args
        .topology
        .clone()
        .or_else(|| file.topology.clone())
        .unwrap_or_else(|| "builtin:three-tier".to_owned());
    let base = builtin::load(&spec)?;
    let data = DataDir::new(&args.data);
    let made = if data.state_db().exists() {
        let state = vpcflow_deliver::State::open(&data.state_db())?;
        match state.made_network()? {
            Some((_, body)) => Made::from_json(&body).with_context(|| {
                format!(
                    "the API's resources in {} do not read",
                    data.state_db().display()
                )
            })?,
            None => Made::default(),
        }
    } else {
        Made::default()
    };
    let topology = merged(&base.topology, &made.topology);
    vpcflow_net::Network::build(&topology).map_err(|p| {
        anyhow::anyhow!("the API's resources no longer fit the topology {spec}: {p}")
    })?;
    outln!("{}", to_toml(&topology).trim_end());
    Ok(())
}
