//! `vpcflow convert`: records in (text, gzip text, JSON lines, Parquet), records out (JSON lines,
//! text with a header, Parquet, OCSF JSON lines).
//!
//! Owns the command's wiring: which format applies to which line (`--format`, else the input's
//! header line, else AWS's default), bad-line policy (`--skip-bad`), and the output sinks. The
//! codecs themselves are `vpcflow_record`'s. A file given with `-o` is written under a temporary
//! name and renamed only when the conversion succeeded, so a failed run leaves no half file.

use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vpcflow_record::arrow::{BatchBuilder, BatchReader};
use vpcflow_record::arrow_array::RecordBatch;
use vpcflow_record::text::{Decoded, LineDecoder, LineError};
use vpcflow_record::{FlowRecord, LogFormat, json, ocsf, parquet, text};

use crate::input::{self, LineReader, Opened, ParquetInput, Progress};

/// Inputs larger than this show a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 32 * 1024 * 1024;
/// How many bad lines `--skip-bad` describes before only counting.
const BAD_LINES_SHOWN: u64 = 5;

#[derive(Args, Debug)]
#[command(after_help = "\
Inputs are recognised by content: gzip, Parquet, JSON lines (a file whose first line starts with
'{') or text. Text inputs may carry header lines ('version account-id …', as S3 text files start,
or with the Parquet column names 'version account_id …') on any line; a header line sets the
format of the lines after it. Whitespace around a line and blank lines are ignored; fields are
separated by single spaces. Transit Gateway flow logs (the tgw-* fields) are read too. JSON output
follows AWS's field names in format order; '-' becomes null; integer fields become numbers, all
others strings.

Examples:
  vpcflow convert flows.log.gz                          # JSON lines on stdout
  vpcflow convert --output parquet -o flows.parquet *.log.gz
  zcat flows.log.gz | vpcflow convert --output ocsf -
  vpcflow convert --format '${srcaddr} ${dstaddr} ${action}' --output text lines.txt")]
pub(crate) struct ConvertArgs {
    /// Format of text input: `${a} ${b} …` (as in CreateFlowLogs) or the header form `a b …`.
    /// [default: the input's header line, else AWS's default v2 format]
    #[arg(long, value_name = "FMT")]
    format: Option<String>,

    /// Output format: jsonl, text (with a header line), parquet (AWS's column names and types,
    /// gzip inside) or ocsf (JSON lines, OCSF Network Activity). `--to` is an alias.
    #[arg(long = "output", alias = "to", value_enum, default_value_t = To::Jsonl)]
    to: To,

    /// Write to FILE instead of stdout (written whole or not at all).
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    output: Option<PathBuf>,

    /// Skip lines that do not fit the format, count them on stderr, and go on.
    #[arg(long)]
    skip_bad: bool,

    /// Input files: text, gzip text, JSON lines or Parquet; `-` is stdin.
    #[arg(value_name = "FILE", default_value = "-")]
    files: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum To {
    Jsonl,
    Text,
    Parquet,
    Ocsf,
}

/// Where converted records go. `begin` is called before the first record and whenever the
/// input's format changes.
trait Sink {
    fn begin(&mut self, format: &LogFormat) -> anyhow::Result<()>;
    fn record(&mut self, format: &LogFormat, rec: &FlowRecord) -> anyhow::Result<()>;
    fn finish(self: Box<Self>) -> anyhow::Result<()>;
}

/// Line-oriented outputs: text, JSON lines, OCSF.
struct LineSink {
    to: To,
    out: BufWriter<Box<dyn Write>>,
    buf: String,
}

impl Sink for LineSink {
    fn begin(&mut self, format: &LogFormat) -> anyhow::Result<()> {
        if self.to == To::Text {
            writeln!(self.out, "{}", format.header())?;
        }
        Ok(())
    }

    fn record(&mut self, format: &LogFormat, rec: &FlowRecord) -> anyhow::Result<()> {
        self.buf.clear();
        match self.to {
            To::Text => text::encode_into(format, rec, &mut self.buf),
            To::Jsonl => json::encode_into(format, rec, &mut self.buf),
            To::Ocsf => self.buf.push_str(&ocsf::to_ocsf(rec).to_string()),
            To::Parquet => unreachable!("Parquet has its own sink"),
        }
        self.buf.push('\n');
        self.out.write_all(self.buf.as_bytes())?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// An open Parquet file: its format, the rows not yet handed over, and the encoder thread.
struct ParquetFile {
    format: LogFormat,
    rows: BatchBuilder,
    batches: SyncSender<RecordBatch>,
    encoder: JoinHandle<anyhow::Result<()>>,
}

impl ParquetFile {
    fn start(out: Box<dyn Write + Send>, format: &LogFormat) -> anyhow::Result<ParquetFile> {
        let mut writer = parquet::writer(out, format).context("cannot start the Parquet file")?;
        let (batches, queue) = sync_channel::<RecordBatch>(4);
        let encoder = std::thread::spawn(move || -> anyhow::Result<()> {
            for batch in queue {
                writer.write(&batch).context("cannot write Parquet")?;
            }
            let mut out = writer
                .into_inner()
                .context("cannot finish the Parquet file")?;
            out.flush()?;
            Ok(())
        });
        Ok(ParquetFile {
            format: format.clone(),
            rows: BatchBuilder::new(format, parquet::BATCH_ROWS),
            batches,
            encoder,
        })
    }

    /// Hands the pending rows to the encoder; if it has stopped, waits for its error.
    fn hand_over(&mut self) -> Result<(), ()> {
        self.batches.send(self.rows.finish()).map_err(|_| ())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        let sent = self.rows.is_empty() || self.hand_over().is_ok();
        drop(self.batches);
        let result = self
            .encoder
            .join()
            .map_err(|_| anyhow::anyhow!("the Parquet encoder thread panicked"))?;
        result?;
        if !sent {
            bail!("the Parquet encoder stopped early");
        }
        Ok(())
    }
}

/// Parquet output: one file holds one format. Encoding and compressing (GZIP) run on their own
/// thread, fed full batches through a short queue, so that decoding the input and encoding the
/// output use both cores; the queue bound keeps memory flat.
struct ParquetSink {
    out: Option<Box<dyn Write + Send>>,
    file: Option<ParquetFile>,
}

impl Sink for ParquetSink {
    fn begin(&mut self, format: &LogFormat) -> anyhow::Result<()> {
        match &self.file {
            Some(f) if &f.format == format => Ok(()),
            Some(f) => bail!(
                "the input's format changed from '{}' to '{}', and one Parquet file holds one \
                 format: convert these inputs separately",
                f.format.header(),
                format.header()
            ),
            None => {
                let out = self.out.take().expect("the sink is begun once");
                self.file = Some(ParquetFile::start(out, format)?);
                Ok(())
            }
        }
    }

    fn record(&mut self, _: &LogFormat, rec: &FlowRecord) -> anyhow::Result<()> {
        let file = self.file.as_mut().expect("begin comes first");
        file.rows.append(rec);
        if file.rows.len() >= parquet::BATCH_ROWS && file.hand_over().is_err() {
            // The encoder hung up: finishing it surfaces its error.
            let err = self.file.take().expect("just used").finish().err();
            return Err(err.unwrap_or_else(|| anyhow::anyhow!("the Parquet encoder stopped early")));
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        if self.file.is_none() {
            // No record at all: still write a valid (empty) file of the default format.
            self.begin(&LogFormat::default_v2())?;
        }
        self.file.take().expect("begun above").finish()
    }
}

/// The bad-line policy: fail at the first, or (with `--skip-bad`) describe a few and count all.
struct BadLines {
    skip: bool,
    count: u64,
}

impl BadLines {
    fn report(&mut self, place: &dyn Display, err: &dyn Display) -> anyhow::Result<()> {
        if !self.skip {
            bail!("{place}: {err}");
        }
        self.count += 1;
        if self.count <= BAD_LINES_SHOWN {
            eprintln!("vpcflow: skipped {place}: {err}");
        }
        Ok(())
    }
}

/// The conversion state that spans inputs.
struct Converter {
    fixed: Option<LogFormat>,
    active: Option<LogFormat>,
    sink: Box<dyn Sink>,
    bad: BadLines,
    rec: FlowRecord,
    records: u64,
}

impl Converter {
    /// With `--format`, a format the input spells itself (header, keys, columns) must agree.
    fn check_fixed(&self, found: &LogFormat, what: &dyn Display) -> anyhow::Result<()> {
        match &self.fixed {
            Some(fixed) if fixed != found => bail!(
                "{what} '{}' differ from --format '{}'",
                found.header(),
                fixed.header()
            ),
            _ => Ok(()),
        }
    }

    /// Makes `format` the active one, telling the sink when it changes.
    fn activate(&mut self, format: &LogFormat) -> anyhow::Result<()> {
        if self.active.as_ref() != Some(format) {
            self.sink.begin(format)?;
            self.active = Some(format.clone());
        }
        Ok(())
    }

    fn lines(
        &mut self,
        name: &str,
        mut lines: LineReader,
        progress: &dyn Fn(),
    ) -> anyhow::Result<()> {
        let mut buf = Vec::with_capacity(512);
        // Text inputs start in the fixed format, else the default until a header says otherwise;
        // JSON lines carry their own keys.
        let mut decoder = LineDecoder::new(self.fixed.clone());
        // Records of this input read so far.
        let mut read = 0u64;
        while lines
            .next_line(&mut buf)
            .with_context(|| format!("{name}: after line {}", lines.line_no()))?
        {
            let n = lines.line_no();
            if n.is_multiple_of(8192) {
                progress();
            }
            match decoder.line(&buf, &mut self.rec) {
                Ok(Decoded::Record) => {
                    self.activate(decoder.format())?;
                    self.sink.record(decoder.format(), &self.rec)?;
                    self.records += 1;
                    read += 1;
                }
                // Fields outside the new format must not leak into records (OCSF reads them
                // all).
                Ok(Decoded::Header { changed: true }) => self.rec = FlowRecord::default(),
                Ok(Decoded::Header { changed: false } | Decoded::Blank) => {}
                // A custom format's file without its header (its first record does not fit
                // AWS's default): say how to give the format.
                Err(e @ LineError::FieldCount { .. }) if decoder.defaulted() && read == 0 => {
                    self.bad.report(
                        &format_args!("{name}:{n}"),
                        &format_args!(
                            "{e} (the file has no header line, so AWS's default format was \
                             assumed: give the file's format with --format '${{field}} …')"
                        ),
                    )?;
                }
                Err(e) => self.bad.report(&format_args!("{name}:{n}"), &e)?,
            }
        }
        Ok(())
    }

    fn parquet(&mut self, name: &str, input: ParquetInput) -> anyhow::Result<()> {
        let (format, batches) = match input {
            ParquetInput::File(f) => parquet::reader(f),
            ParquetInput::Bytes(b) => parquet::reader(b),
        }
        .with_context(|| name.to_owned())?;
        self.check_fixed(&format, &format_args!("{name}: the columns"))?;
        self.activate(&format)?;
        let mut row_base = 0usize;
        for batch in batches {
            let batch = batch
                .with_context(|| format!("{name}: damaged Parquet data after row {row_base}"))?;
            let reader = BatchReader::new(&batch).with_context(|| name.to_owned())?;
            for row in 0..reader.len() {
                match reader.read_into(row, &mut self.rec) {
                    Ok(()) => {
                        self.sink.record(&format, &self.rec)?;
                        self.records += 1;
                    }
                    Err(e) => self
                        .bad
                        .report(&format_args!("{name}: row {}", row_base + row + 1), &e)?,
                }
            }
            row_base += reader.len();
        }
        Ok(())
    }
}

/// The output stream: stdout, or a temporary file renamed into place by [`Output::commit`].
struct Output {
    tmp: Option<(PathBuf, PathBuf)>,
}

impl Output {
    fn open(path: Option<&Path>) -> anyhow::Result<(Output, Box<dyn Write + Send>)> {
        match path {
            None => Ok((Output { tmp: None }, Box::new(io::stdout()))),
            Some(p) => {
                let mut tmp = p.as_os_str().to_owned();
                tmp.push(".vpcflow-partial");
                let tmp = PathBuf::from(tmp);
                let f =
                    File::create(&tmp).with_context(|| format!("cannot create {}", p.display()))?;
                Ok((
                    Output {
                        tmp: Some((tmp, p.to_owned())),
                    },
                    Box::new(f),
                ))
            }
        }
    }

    fn commit(mut self) -> anyhow::Result<()> {
        if let Some((tmp, dest)) = self.tmp.take() {
            std::fs::rename(&tmp, &dest)
                .with_context(|| format!("cannot write {}", dest.display()))?;
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some((tmp, _)) = &self.tmp {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Runs `vpcflow convert`.
pub(crate) fn run(args: &ConvertArgs) -> anyhow::Result<()> {
    let fixed = args
        .format
        .as_deref()
        .map(|f| LogFormat::parse_any(f).with_context(|| format!("--format '{f}'")))
        .transpose()?;
    if args.to == To::Parquet && args.output.is_none() && io::stdout().is_terminal() {
        bail!("refusing to write Parquet to a terminal: use -o FILE or redirect stdout");
    }
    let (output, out) = Output::open(args.output.as_deref())?;
    let sink: Box<dyn Sink> = match args.to {
        To::Parquet => Box::new(ParquetSink {
            out: Some(out),
            file: None,
        }),
        to => Box::new(LineSink {
            to,
            out: BufWriter::with_capacity(256 * 1024, out),
            buf: String::new(),
        }),
    };

    let progress = Progress::default();
    let total = input::total_size(&args.files);
    let bar = if io::stderr().is_terminal() && total >= PROGRESS_MIN_BYTES {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
            )
            .expect("the template is valid"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let tick = || bar.set_position(progress.get());

    let mut conv = Converter {
        fixed,
        active: None,
        sink,
        bad: BadLines {
            skip: args.skip_bad,
            count: 0,
        },
        rec: FlowRecord::default(),
        records: 0,
    };
    for name in &args.files {
        let shown = if name == "-" {
            "<stdin>"
        } else {
            name.as_str()
        };
        bar.set_message(shown.to_owned());
        match input::open(name, &progress)? {
            Opened::Lines(lines) => conv.lines(shown, lines, &tick)?,
            Opened::Parquet(p) => conv.parquet(shown, p)?,
        }
        tick();
    }
    bar.finish_and_clear();
    let Converter {
        sink, bad, records, ..
    } = conv;
    sink.finish()?;
    output.commit()?;
    if bad.count > 0 {
        eprintln!(
            "vpcflow: skipped {} bad line(s); converted {records} record(s)",
            bad.count
        );
    }
    Ok(())
}
