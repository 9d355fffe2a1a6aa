//! The `vpcflow` command: argument parsing and process wiring only.
//!
//! Each subcommand lives in its own module and calls into the library crates; no flow-log rule
//! is decided here. Errors are reported as one `error: …` line on stderr with a non-zero exit
//! status, never a panic or a backtrace; a closed stdout (`vpcflow convert … | head`) ends the
//! program quietly.

/// Writes a line to stdout, returning the error (a closed pipe ends the program quietly)
/// instead of panicking as `println!` does.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

mod capture;
mod cluster;
mod convert;
mod delivered;
mod delivery;
mod findings;
mod input;
mod lab;
mod live_source;
mod logs;
mod query;
mod serve;
mod simulate;
mod topology;
mod troubleshoot;
mod up;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Self-hosted VPC Flow Logs: AWS-format flow records for any network.
#[derive(Parser, Debug)]
#[command(name = "vpcflow", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service: simulated traffic in real time, delivered to the flow logs, until
    /// SIGINT/SIGTERM; a restart continues where it stopped.
    Up(up::UpArgs),
    /// Convert flow-log records between text, gzip text, JSON lines, Parquet and OCSF.
    Convert(convert::ConvertArgs),
    /// Simulate a scenario's traffic through a topology and deliver the flow logs.
    Simulate(simulate::SimulateArgs),
    /// Capture pcap/pcapng files (in packet time) or live interfaces and deliver the flow logs.
    Capture(capture::CaptureArgs),
    /// Ask flow logs questions: Logs Insights over log groups, SQL with Athena's DDL over buckets.
    Query(query::QueryArgs),
    /// Run queries on a cluster: a Ballista scheduler and executors from this binary, for
    /// `vpcflow query --cluster df://HOST:PORT`.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Look into log groups: list groups and streams, print events (like `aws logs tail`).
    #[command(subcommand)]
    Logs(logs::LogsCommand),
    /// The flow logs of a data directory (DescribeFlowLogs, with DeliverLogsStatus).
    #[command(subcommand, name = "flow-logs")]
    FlowLogs(delivery::FlowLogsCommand),
    /// The network model: `export` prints the topology with the resources the EC2 API made.
    #[command(subcommand)]
    Topology(topology::TopologyCommand),
    /// Build (up) or remove (down) a topology as network namespaces enforcing its policy.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Explain whether a connection would be accepted, and by which rules, both ways (from the
    /// topology, or with --data from the delivered records).
    Diagnose(simulate::DiagnoseArgs),
    /// Run the detections (port scans, sweeps, brute force, unusual egress and ports) over the
    /// delivered records and list the findings, with their evidence.
    Findings(findings::FindingsArgs),
    /// List every flow-log field (VPC versions 2–11, and Transit Gateway's version 6, which
    /// vpcflow reads): name, Parquet column, version, which flow logs write it, type.
    Fields(FieldsArgs),
}

#[derive(clap::Args, Debug)]
struct FieldsArgs {
    /// table (for people) or json (an array of objects: name, column, version, flowLogs, type,
    /// meaning).
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    output: String,
}

/// Runs a command; its exit status (`diagnose` says its verdict in it).
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Diagnose(args) = &cli.command {
        return simulate::run_diagnose(args);
    }
    run_command(cli).map(|()| ExitCode::SUCCESS)
}

fn run_command(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Simulate(args) => simulate::run_simulate(&args),
        Command::Capture(args) => capture::run(&args),
        Command::Lab(cmd) => lab::run_lab(&cmd),
        Command::Topology(cmd) => topology::run(&cmd),
        Command::Logs(cmd) => logs::run(&cmd),
        Command::Query(args) => query::run(&args),
        Command::Cluster(cmd) => cluster::run(&cmd),
        Command::Findings(args) => findings::run(&args),
        Command::FlowLogs(cmd) => delivery::run_flow_logs(&cmd),
        Command::Diagnose(_) => unreachable!("run() answers diagnose"),
        Command::Fields(args) if args.output == "json" => {
            let fields: Vec<serde_json::Value> = vpcflow_record::FIELDS
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "name": f.name,
                        "column": f.column,
                        "version": f.version,
                        "flowLogs": f.scope.as_str(),
                        "type": f.kind.parquet_name(),
                        "meaning": f.description,
                    })
                })
                .collect();
            writeln!(
                io::stdout().lock(),
                "{}",
                serde_json::to_string_pretty(&fields)?
            )?;
            Ok(())
        }
        Command::Fields(_) => {
            let mut out = io::stdout().lock();
            writeln!(
                out,
                "{:<27} {:<27} {:>7}  {:<15} {:<7} meaning",
                "field", "column", "version", "flow logs", "type"
            )?;
            for f in vpcflow_record::FIELDS {
                writeln!(
                    out,
                    "{:<27} {:<27} {:>7}  {:<15} {:<7} {}",
                    f.name,
                    f.column,
                    f.version,
                    f.scope.as_str(),
                    f.kind.parquet_name(),
                    f.description
                )?;
            }
            Ok(())
        }
    }
}

/// An error and its causes on one line, each said once: a message that already carries its
/// cause's text (`"spool: {0}"` over the I/O error it wraps) does not repeat it.
fn one_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let said = cause.to_string();
        if out.contains(&said) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&said);
    }
    out
}

/// True when the error chain ends in a closed pipe (the reader of our stdout went away).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// mimalloc instead of the system allocator: queries allocate and free many short-lived Arrow
/// buffers, which glibc's malloc served about 7 % slower (Cargo.toml, `mimalloc`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The stack a command runs on (and the query runtime's workers): planning a query recurses over
/// its expressions, whose depth the languages' limits bound; this is room for them, so that no
/// input overflows the stack and aborts the process. Reserved, not committed: pages are used
/// only as deep as a command goes.
pub(crate) const STACK_BYTES: usize = 256 << 20;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = std::thread::Builder::new()
        .name("vpcflow".into())
        .stack_size(STACK_BYTES)
        .spawn(move || run(cli));
    let result = match command {
        Ok(thread) => thread.join().unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "vpcflow panicked (a bug: please report it)"
            ))
        }),
        Err(e) => Err(anyhow::anyhow!("cannot start the command's thread: {e}")),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, the whole chain: "error: flows.log:3: field 6 (srcport): 'x' is not a number".
            let _ = writeln!(io::stderr(), "error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}
