//! `snakescope report`: re-render a saved capture.

use crate::args::ReportArgs;
use crate::commands::capture_file::read_capture;
use crate::commands::output::{check_output_path, output_format};
use crate::UserError;
use snakescope_formats::Format;

pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    let path = &args.capture;
    let capture = read_capture(
        path,
        "report reads the JSON written by `snakescope record -o FILE.json`",
    )?;
    if let Some(out) = &args.output {
        check_output_path(out)?;
    }
    let format = output_format(args.output.as_deref(), args.format, Format::Text)?;
    let no_memory = || {
        UserError::new(format!("`{}` has no memory data", path.display()))
            .with_hint("memory is recorded by `snakescope run` (not with --exact or --memory off)")
    };
    if format == Format::Timeline && capture.memory.is_none() {
        // An empty chart would read as "no memory used".
        return Err(no_memory().into());
    }
    let capture = match &args.memory {
        None => capture,
        Some(what) => {
            let metric =
                snakescope_formats::memory::MemoryMetric::from_name(what).expect("checked by clap");
            snakescope_formats::memory::memory_view(&capture, metric).ok_or_else(no_memory)?
        }
    };
    let result = match &args.output {
        Some(out) => {
            // Rendered in memory first, so a failure leaves no partial file behind.
            let mut rendered = Vec::new();
            snakescope_formats::write(&capture, format, &mut rendered)
                .map_err(|e| UserError::new(e.to_string()))?;
            std::fs::write(out, rendered)
                .map_err(|e| UserError::new(format!("cannot write `{}`: {e}", out.display())))?;
            Ok(())
        }
        None => snakescope_formats::write(&capture, format, &mut std::io::stdout().lock()),
    };
    match result {
        Ok(()) => Ok(0),
        Err(e) if e.is_broken_pipe() => Ok(0),
        Err(e) => Err(UserError::new(e.to_string()).into()),
    }
}
