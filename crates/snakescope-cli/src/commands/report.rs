//! `snakescope report`: re-render a saved capture.

use crate::args::ReportArgs;
use crate::commands::capture_file::read_capture;
use crate::commands::output::{check_draws, check_output_path, output_format};
use crate::UserError;
use snakescope_formats::memory::{memory_view, MemoryMetric};
use snakescope_formats::{Format, FormatError, Section};

pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    let path = &args.capture;
    let mut capture = read_capture(
        path,
        "report reads the JSON written by `snakescope record -o FILE.json`",
    )?;
    if let Some(pid) = args.pid {
        keep_process(&mut capture, pid, path)?;
    }
    if let Some(out) = &args.output {
        check_output_path(out)?;
    }
    // A memory view is stacks weighted by bytes: collapsed stacks by default,
    // as the text report's figures are samples and seconds.
    let default = match args.memory {
        Some(_) => Format::Collapsed,
        None => Format::Text,
    };
    let format = output_format(args.output.as_deref(), args.format, default)?;
    // A chart of nothing would read as "none used": refused, with what it needs.
    let subject = format!("`{}`", path.display());
    check_draws(format, &Section::of(&capture), &subject)?;
    let capture = match &args.memory {
        None => capture,
        Some(what) => {
            let metric = MemoryMetric::from_name(what).expect("checked by clap");
            let view = memory_view(&capture, metric).ok_or_else(|| {
                UserError::new(format!("{subject} has no memory data")).with_hint(format!(
                    "memory is recorded by {}",
                    Section::Memory.recorded_by()
                ))
            })?;
            let view_subject = format!("the --memory {what} view of {subject}");
            check_draws(format, &Section::of(&view), &view_subject)?;
            view
        }
    };
    match &args.output {
        Some(out) => {
            // Rendered in memory first, so a failure leaves no partial file behind.
            let mut rendered = Vec::new();
            snakescope_formats::write(&capture, format, &mut rendered).map_err(user_error)?;
            std::fs::write(out, rendered)
                .map_err(|e| UserError::new(format!("cannot write `{}`: {e}", out.display())))?;
        }
        None => crate::to_stdout(|out| snakescope_formats::write(&capture, format, out))
            .map_err(user_error)?,
    }
    Ok(0)
}

/// `--pid`: keeps one process's samples, or says which pids there are.
fn keep_process(
    capture: &mut snakescope_model::Capture,
    pid: u32,
    path: &std::path::Path,
) -> Result<(), UserError> {
    let pids = capture.pids();
    if !pids.contains(&pid) {
        let listed: Vec<String> = pids.iter().map(u32::to_string).collect();
        return Err(UserError::new(format!(
            "`{}` has no samples of process {pid}",
            path.display()
        ))
        .with_hint(match listed.is_empty() {
            true => "this capture does not say which process it sampled".to_owned(),
            false => format!("its processes: {}", listed.join(", ")),
        }));
    }
    capture.keep_process(pid);
    Ok(())
}

fn user_error(e: FormatError) -> UserError {
    let user = UserError::new(e.to_string());
    match e.hint() {
        Some(hint) => user.with_hint(hint),
        None => user,
    }
}
