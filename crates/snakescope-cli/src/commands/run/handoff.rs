//! `run`'s child processes: the agent samples the program, and `run`
//! samples the program's descendants from outside (as `record
//! --subprocesses`, `commands/children`). When at least one was followed,
//! the bootstrap hands its capture over instead of writing the output (the
//! file [`seen_file`] tells it to; `_run.py`'s `_hand_over`), and this
//! merges the children's into it and writes the output, summary and
//! `wrote …` line as the bootstrap would have.

use crate::args::RunArgs;
use crate::commands::children::{Children, Following, Hide};
use crate::write_profile::{write_profile, ProfileOutput};
use snakescope_formats::Format;
use snakescope_model::Capture;
use snakescope_remote::SamplerSettings;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

/// The file that tells the bootstrap a child process was followed.
pub fn seen_file(handoff: &Path) -> PathBuf {
    handoff.with_extension("children")
}

/// Starts following the descendants of the program `pid`.
pub fn follow(pid: u32, args: &RunArgs, handoff: &Path) -> Children {
    let settings = SamplerSettings {
        rate_hz: args.sampling.rate,
        include_idle: args.sampling.idle,
        gil_only: args.sampling.gil,
        duration: None,
        opcodes: false,
        native: false,
    };
    Children::follow_with(
        pid,
        Following {
            settings,
            hide: Hide::RunBootstrap,
            seen_file: Some(seen_file(handoff)),
        },
    )
}

/// Once the program `pid` has ended with `status`: merges the children's
/// samples into the capture it handed over and writes the output, or (no
/// capture handed over: no child was followed in time, or the program died
/// before writing) leaves them.
pub fn finish(
    children: Children,
    handoff: &Path,
    args: &RunArgs,
    format: Format,
    pid: u32,
    status: ExitStatus,
) {
    let handed = std::fs::read(handoff)
        .ok()
        .and_then(|b| serde_json::from_slice::<Capture>(&b).ok());
    for path in [handoff.to_path_buf(), seen_file(handoff)] {
        let _ = std::fs::remove_file(path);
    }
    let Some(mut capture) = handed else {
        children.abandon();
        return;
    };
    children.finish(&mut capture, Some(crate::launch::status_code(status)));
    let path = args
        .sampling
        .output
        .clone()
        .unwrap_or_else(|| format.default_file_name(pid).into());
    let out = ProfileOutput {
        path: &path,
        format,
        quiet: args.sampling.quiet,
        summary: true,
        color: false,
        empty_because: "no thread was running Python code while sampled",
    };
    if let Err(e) = write_profile(&capture, &out) {
        crate::stderr_line(format_args!(
            "snakescope: could not write the profile: {}",
            e.message
        ));
    }
}
