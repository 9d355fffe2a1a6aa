//! `vpcflow up`: the long-running service on embedded defaults. Simulated traffic on the
//! topology in real time (or `--speed` times faster), delivered to the flow logs as
//! `vpcflow simulate` delivers it, until SIGINT or SIGTERM; started again on the same data
//! directory, it continues where it stopped. The simulation, the delivery and their resuming
//! are the library's and `simulate.rs`'s; this module picks the run's start and wires signals.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context as _, bail};
use clap::Args;
use vpcflow_store::time::Civil;
use vpcflow_store::{Clock as _, DataDir};

use crate::delivery::{DeliveryArgs, SystemClock, load_config};
use crate::simulate::{Drive, EngineArgs, RunArgs, SimulateArgs, parse_rfc3339};

/// The settings that keep what a data directory's service simulates: `up.` and the flag.
/// Simulated time of a service given no `--duration`: a century, which no one waits out.
const WITHOUT_END: &str = "36500d";

#[derive(Args, Debug)]
#[command(after_help = "\
Runs until SIGINT or SIGTERM: the topology's traffic (builtin:three-tier and the default scenario
unless the config says otherwise) in simulated time paced by the wall clock, delivered to the flow
logs of --config (else the built-in default: the log group /vpcflow/flow-logs and the bucket
flow-logs) under --data. On a stop, what closed is delivered and the open aggregation intervals
are left to the next start, which continues where this one stopped: no gap, nothing twice.

Flow logs created or deleted in the data directory while it runs (state.db, as the API will) take
effect without a restart: a created one delivers from its next aggregation interval (in simulated
time), a deleted one delivers nothing that closes after. The config's [capture] interfaces are
captured live (AF_PACKET, root) beside the simulated traffic: the ENIs whose host_interface they
are get their records from the capture, in wall-clock time, and not from the simulation.

It serves the AWS-compatible API on --listen (default 127.0.0.1:4599): EC2's flow-log actions,
and its network actions (VPCs, subnets, security groups, network ACLs, internet and NAT gateways,
route tables, Elastic IPs, ENIs, instances, tags; docs/network.md), whose resources join the
topology as one model: kept in the data directory, simulated from the next simulated second with
traffic derived from their rules and routes, and written back by `vpcflow topology export`; IAM's
roles and inline policies (a flow log's delivery role must exist, trust
vpc-flow-logs.amazonaws.com and allow writing the log group, else it is FAILED, `Access error`,
and delivers nothing); CloudWatch Logs (log groups, streams, events, Insights, metric and
subscription filters), CloudWatch alarms and metrics, S3 on the local buckets (objects, buckets,
policies, lifecycle, notifications to webhooks), Firehose delivery streams and STS's
GetCallerIdentity, SigV4-verified against [server] credentials (else
AWS's example key AKIAIOSFODNN7EXAMPLE for the topology's account), so that `aws --endpoint-url`
and boto3 work unchanged; plus GET /healthz and /metrics. Requests are logged to DATA/api.log.
On the same port, the console: a web UI under /ui (overview, network map, flow logs, Logs
Insights and SQL, alarms and findings, diagnose), signed into with the same credentials and
embedded in the binary (docs/console.md); --no-console leaves it out.
Beside the server, a second each: Firehose buffers to their destinations, subscription filters'
new events to their streams, bucket lifecycle expiration and event notifications, alarms
evaluated on the metric's time with their notifications POSTed to the [[topics]] subscribers, and
with [detections] the detections run over the delivered records, new findings notified alike.

The first start in a data directory begins at --start, else the config's [simulation] start, else
now, and keeps that start, --duration, --seed and --scenario; later starts continue that run, and
refuse other values (other traffic over the same time would deliver it twice). With --start,
--seed and --duration, `vpcflow up` delivers exactly what `vpcflow simulate` delivers with the
same flags.

Examples:
  vpcflow up                                  # real time, until Ctrl-C
  vpcflow up --speed 60                       # an hour a minute
  vpcflow up --speed max --duration 2h --start 2026-01-15T14:00:00Z --seed 7
  vpcflow up --listen 127.0.0.1:0             # the API on a free port (printed)
  open http://127.0.0.1:4599/ui               # the console (sign in with the printed key)
  aws --endpoint-url http://127.0.0.1:4599 ec2 describe-flow-logs
  aws --endpoint-url http://127.0.0.1:4599 ec2 create-vpc --cidr-block 10.20.0.0/16")]
pub(crate) struct UpArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    serve: crate::serve::ServeArgs,
    /// Simulated seconds per wall-clock second, or `max` for no pacing.
    #[arg(long, default_value = "1", value_name = "N|max")]
    speed: String,
}

/// `--speed`: a factor, or `None` for `max`.
fn parse_speed(text: &str) -> anyhow::Result<Option<f64>> {
    if text == "max" {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(Some(n)),
        _ => bail!("--speed '{text}': expected a positive number (1 is real time) or max"),
    }
}

/// An RFC 3339 time of Unix seconds, UTC.
fn rfc3339(secs: u64) -> String {
    let c = Civil::of_secs(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// What the service of `dir` simulates for `flag`: what it kept from its first start; a flag
/// (or config value) that differs is refused, since a run of other traffic over the same time
/// would deliver that time twice. The caller keeps it once every flag is checked.
fn kept_or(
    db: &vpcflow_store::db::Connection,
    dir: &std::path::Path,
    flag: &str,
    given: Option<String>,
    default: &dyn Fn() -> String,
) -> anyhow::Result<String> {
    let key = format!("up.{flag}");
    let value = match (vpcflow_store::db::setting(db, &key)?, given) {
        (Some(kept), Some(given)) if kept != given => bail!(
            "--{flag} {given}: the service of {} simulates --{flag} {kept} (since its first \
             start); start it with that, or use another --data",
            dir.display()
        ),
        (Some(kept), _) => kept,
        (None, Some(given)) => given,
        (None, None) => default(),
    };
    Ok(value)
}

pub(crate) fn run(args: &UpArgs) -> anyhow::Result<()> {
    let speed = parse_speed(&args.speed)?;
    if args.delivery.stdout {
        bail!("--stdout prints a simulation and ends: that is `vpcflow simulate --stdout`");
    }
    let file = load_config(args.delivery.config.as_deref())?;
    let data = DataDir::new(&args.delivery.data);
    crate::delivery::hold_writer_lock(data.root())?;
    let db = vpcflow_store::db::open(&data.state_db())?;
    let sim = &file.simulation;
    let kept = |key: &str, given: Option<String>, default: &dyn Fn() -> String| {
        kept_or(&db, data.root(), key, given, default)
    };
    let start = kept(
        "start",
        args.run.start.clone().or_else(|| sim.start.clone()),
        &|| {
            // Now, to the minute: a start that reads well in keys and file names.
            let now = SystemClock.now_ms() / 1000;
            rfc3339(now - now % 60)
        },
    )?;
    let duration = kept(
        "duration",
        args.run.duration.clone().or_else(|| sim.duration.clone()),
        &|| WITHOUT_END.to_owned(),
    )?;
    let seed = kept(
        "seed",
        args.run.seed.or(sim.seed).map(|s| s.to_string()),
        &|| "1".to_owned(),
    )?;
    let scenario = kept(
        "scenario",
        args.run.scenario.clone().or_else(|| sim.scenario.clone()),
        &|| "default".to_owned(),
    )?;
    // Checked before they are kept: a bad value kept would refuse every later start.
    parse_rfc3339(&start)
        .with_context(|| format!("--start '{start}': expected an RFC 3339 time"))?;
    vpcflow_capture::scenario::parse_duration(&duration)
        .filter(|d| *d > 0)
        .with_context(|| format!("--duration '{duration}': expected e.g. 90s, 10m, 1h, 1h30m"))?;
    vpcflow_capture::Scenario::load(&scenario).map_err(anyhow::Error::msg)?;
    for (flag, value) in [
        ("start", &start),
        ("duration", &duration),
        ("seed", &seed),
        ("scenario", &scenario),
    ] {
        vpcflow_store::db::set_setting(&db, &format!("up.{flag}"), value)?;
    }
    drop(db);

    let (_, _, net) = args.engine.resolve(&file, |_| Ok(None))?;
    let config = file
        .delivery
        .clone()
        .unwrap_or_else(|| vpcflow_deliver::config::DeliveryConfig::builtin_default(&net));
    let server = crate::serve::start(&args.serve, &config, &net, &data)?;
    if args.serve.insecure_any_credentials {
        eprintln!(
            "vpcflow up: WARNING: --insecure-any-credentials: the API on {} checks no \
             signature and lets any access key in. Use it only where nobody else can reach it.",
            server.addr
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot handle SIGINT/SIGTERM")?;
    }
    let run = RunArgs {
        start: Some(start.clone()),
        duration: Some(duration),
        seed: Some(
            seed.parse()
                .with_context(|| format!("the kept seed '{seed}' is not a number"))?,
        ),
        scenario: Some(scenario),
    };
    let pace = speed.map_or("as fast as it goes".to_owned(), |n| {
        if n == 1.0 {
            "in real time".to_owned()
        } else {
            format!("at {n}× real time")
        }
    });
    let shown = data.root().display();
    outln!(
        "vpcflow up: simulated traffic from {start} {pace}, delivered under {shown}; \
         SIGINT (Ctrl-C) or SIGTERM stops it, and a restart continues.\n\
         Look at it while it runs:\n  \
         vpcflow logs tail /vpcflow/flow-logs --follow --data {shown}\n  \
         vpcflow query --data {shown} --insights 'stats count(*) by action'\n  \
         vpcflow flow-logs describe --data {shown}\n{}",
        server.banner(args.serve.insecure_any_credentials)
    );
    let result = crate::simulate::simulate(
        &SimulateArgs {
            engine: args.engine.clone(),
            delivery: args.delivery.clone(),
            run,
        },
        &file,
        &Drive {
            progress: Some(server.progress.clone()),
            speed,
            stop: Some(stop),
            service: true,
            network: Some(Arc::clone(&server.network)),
        },
    );
    let stopped = server.stop();
    result.and(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("max").unwrap(), None);
        assert_eq!(parse_speed("60").unwrap(), Some(60.0));
        assert_eq!(parse_speed("0.5").unwrap(), Some(0.5));
        for bad in ["0", "-1", "fast", "inf", "NaN"] {
            assert!(parse_speed(bad).is_err(), "{bad}");
        }
        assert_eq!(rfc3339(1_768_485_600), "2026-01-15T14:00:00Z");
    }
}
