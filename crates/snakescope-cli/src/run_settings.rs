//! `run`'s settings on both sides of the interpreter's start: `snakescope run`
//! writes them as options of the bootstrap's command line (`python -m
//! snakescope._run OPTIONS -- KIND TARGET ARGS…`), and the bootstrap, inside
//! the program's interpreter, hands those options back to Rust, which parses
//! them with the same clap definition `run` parsed the user's line with. One
//! definition of every option, its default and its range; the bootstrap gets
//! typed values (the agent's `_native.run_settings`).

use crate::args::{MemoryMode, RunArgs};
use clap::Parser;
use snakescope_formats::Format;
use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variable naming the operand sampler's file to the
/// bootstrap (`run --advise-operands`, set by `snakescope advise`).
pub(crate) const ADVISE_OPERANDS_ENV: &str = "SNAKESCOPE_ADVISE_OPERANDS";

/// `snakescope run WORDS…` as clap reads it (`advise` runs the program so).
pub(crate) fn parse_run_line(words: Vec<OsString>) -> Result<RunArgs, clap::Error> {
    RunOnly::try_parse_from(std::iter::once(OsString::from("run")).chain(words)).map(|o| o.run)
}

/// `run`'s options alone, for parsing the bootstrap's line.
#[derive(Parser)]
#[command(name = "run")]
struct RunOnly {
    #[command(flatten)]
    run: RunArgs,
}

/// What the bootstrap needs to know, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    pub rate_hz: f64,
    /// `None`: the format's default file name, in the program's directory.
    pub output: Option<PathBuf>,
    pub format: Format,
    pub idle: bool,
    pub gil: bool,
    /// Samples per instruction (`--opcodes`).
    pub opcodes: bool,
    pub quiet: bool,
    pub exact: bool,
    /// With `exact`: pstats' sort key for the printed table.
    pub sort: String,
    pub lines: Vec<String>,
    /// `"sampled"`, `"exact"` or `"off"` (an interval of 0 bytes is exact).
    pub memory: &'static str,
    pub memory_interval: u64,
    /// `--stat`: the program's figures as `snakescope stat` measures them.
    pub stat: bool,
    /// Where the asyncio task layout arrives (asyncio followed), if anywhere.
    pub task_layout_file: Option<PathBuf>,
    /// Where the agent writes the capture so far every second (`--live-web`).
    pub live_snapshot_file: Option<PathBuf>,
    /// Where the bootstrap's messages at the end go (`--live`), if not stderr.
    pub messages_file: Option<PathBuf>,
    /// Where the capture goes for `run` to merge child processes', if any.
    pub handoff_file: Option<PathBuf>,
}

/// How memory is tracked: `--memory sampled --memory-interval 0` is exact.
fn memory_name(args: &RunArgs) -> &'static str {
    match args.memory {
        MemoryMode::Sampled if args.memory_interval == 0 => "exact",
        MemoryMode::Sampled => "sampled",
        MemoryMode::Exact => "exact",
        MemoryMode::Off => "off",
    }
}

/// The bootstrap's options for a `run` whose output format is `format`
/// (chosen and checked by `run`).
pub(crate) fn bootstrap_options(args: &RunArgs, format: Format) -> Vec<OsString> {
    let mut options: Vec<OsString> = vec!["--rate".into(), args.sampling.rate.to_string().into()];
    if let Some(out) = &args.sampling.output {
        options.extend(["--output".into(), out.into()]);
    }
    options.extend(["--format".into(), format.name().into()]);
    if args.exact {
        options.extend(["--exact".into(), "--sort".into(), (&args.sort).into()]);
    }
    for pattern in &args.lines {
        options.extend(["--lines".into(), pattern.into()]);
    }
    options.extend([
        "--memory".into(),
        memory_name(args).into(),
        "--memory-interval".into(),
        args.memory_interval.to_string().into(),
    ]);
    if let Some(path) = &args.task_layout_file {
        options.extend(["--task-layout-file".into(), path.into()]);
    }
    if let Some(path) = &args.live_snapshot_file {
        options.extend(["--live-snapshot-file".into(), path.into()]);
    }
    if let Some(path) = &args.messages_file {
        options.extend(["--messages-file".into(), path.into()]);
    }
    if let Some(path) = &args.handoff_file {
        options.extend(["--handoff-file".into(), path.into()]);
    }
    for (on, flag) in [
        (args.sampling.idle, "--idle"),
        (args.sampling.gil, "--gil"),
        (args.sampling.quiet, "--quiet"),
        (args.sampling.opcodes, "--opcodes"),
        (args.sampling.stat, "--stat"),
    ] {
        if on {
            options.push(flag.into());
        }
    }
    options
}

/// Parses the options [`bootstrap_options`] wrote (`--format` is required:
/// `run` always chooses it). Errors are clap's first line.
pub fn parse_bootstrap_options(options: Vec<OsString>) -> Result<RunSettings, String> {
    // The program is not part of the options: a placeholder satisfies clap.
    let line = std::iter::once(OsString::from("run"))
        .chain(options)
        .chain(["-c".into(), "pass".into()]);
    let args = RunOnly::try_parse_from(line)
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_owned())?
        .run;
    if let Some(extra) = args.args.first() {
        // An unknown word ended the options and became the program's.
        return Err(format!(
            "error: unexpected argument `{}`",
            extra.to_string_lossy()
        ));
    }
    let format = args
        .sampling
        .format
        .ok_or_else(|| "--format is required".to_owned())?;
    Ok(RunSettings {
        rate_hz: args.sampling.rate,
        output: args.sampling.output.clone(),
        format,
        idle: args.sampling.idle,
        gil: args.sampling.gil,
        opcodes: args.sampling.opcodes,
        quiet: args.sampling.quiet,
        exact: args.exact,
        sort: args.sort.clone(),
        lines: args.lines.clone(),
        memory: memory_name(&args),
        memory_interval: args.memory_interval,
        stat: args.sampling.stat,
        task_layout_file: args.task_layout_file.clone(),
        live_snapshot_file: args.live_snapshot_file.clone(),
        messages_file: args.messages_file.clone(),
        handoff_file: args.handoff_file.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn user_line(words: &[&str]) -> RunArgs {
        RunOnly::try_parse_from(std::iter::once("run").chain(words.iter().copied()))
            .unwrap()
            .run
    }

    /// What `run` writes, the bootstrap reads back as `run` understood it.
    #[test]
    fn the_bootstrap_reads_what_run_wrote() {
        let args = user_line(&[
            "--rate",
            "250",
            "-o",
            "x.html",
            "--idle",
            "-q",
            "--stat",
            "--lines",
            "m:f",
            "--lines",
            "g",
            "--memory-interval",
            "0",
            "--opcodes",
            "--task-layout-file",
            "/tmp/layout.json",
            "--live-snapshot-file",
            "/tmp/live.json",
            "--messages-file",
            "/tmp/messages.txt",
            "--handoff-file",
            "/tmp/handoff.json",
            "script.py",
            "a",
        ]);
        let got = parse_bootstrap_options(bootstrap_options(&args, Format::Html)).unwrap();
        assert_eq!(
            got,
            RunSettings {
                rate_hz: 250.0,
                output: Some("x.html".into()),
                format: Format::Html,
                idle: true,
                gil: false,
                opcodes: true,
                quiet: true,
                exact: false,
                sort: "cumulative".into(),
                lines: vec!["m:f".into(), "g".into()],
                memory: "exact",
                memory_interval: 0,
                stat: true,
                task_layout_file: Some("/tmp/layout.json".into()),
                live_snapshot_file: Some("/tmp/live.json".into()),
                messages_file: Some("/tmp/messages.txt".into()),
                handoff_file: Some("/tmp/handoff.json".into()),
            }
        );
    }

    #[test]
    fn defaults_are_the_command_lines_own() {
        let args = user_line(&["-c", "pass"]);
        let got = parse_bootstrap_options(bootstrap_options(&args, Format::Flamegraph)).unwrap();
        assert_eq!(got.rate_hz, crate::defaults::RATE_HZ);
        assert_eq!(got.memory_interval, crate::defaults::MEMORY_INTERVAL_BYTES);
        assert_eq!(
            (got.memory, got.output, got.exact),
            ("sampled", None, false)
        );
    }

    #[test]
    fn an_output_name_need_not_be_utf8() {
        let name = OsString::from_vec(b"out-\xff.json".to_vec());
        let args = user_line(&["--exact", "-s", "tottime", "-c", "pass"]);
        let mut options = bootstrap_options(&args, Format::Pstats);
        options.extend(["--output".into(), name.clone()]);
        let got = parse_bootstrap_options(options).unwrap();
        assert_eq!(got.output, Some(PathBuf::from(name)));
        assert_eq!((got.exact, got.sort.as_str()), (true, "tottime"));
    }

    #[test]
    fn a_line_without_a_format_or_with_a_bad_option_is_one_error_line() {
        let err = parse_bootstrap_options(vec!["--rate".into(), "100".into()]).unwrap_err();
        assert_eq!(err, "--format is required");
        let err = parse_bootstrap_options(vec!["--nonsense".into()]).unwrap_err();
        assert!(err.starts_with("error:") && !err.contains('\n'), "{err}");
    }
}
