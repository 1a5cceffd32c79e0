//! `snakescope dis CAPTURE FUNCTION`: a function's bytecode with each
//! instruction's share of its samples, grouped under source lines, from a
//! capture recorded with `--opcodes`. `table` asks the sampled interpreter
//! for its opcode table (`record`); `find` picks the function named.

mod find;
mod json;
pub(crate) mod table;

use crate::args::DisArgs;
use crate::commands::capture_file::read_capture;
use crate::UserError;
use snakescope_formats::dis::{function_view, write_function, SourceLines};
use snakescope_model::{Capture, Opcodes};

pub fn run(args: &DisArgs) -> anyhow::Result<u8> {
    let path = &args.capture;
    let capture = read_capture(
        path,
        "dis reads the JSON written by `snakescope record --opcodes -o FILE.json`",
    )?;
    let opcodes = capture.opcodes.as_ref().ok_or_else(|| {
        UserError::new(format!(
            "`{}` was recorded without --opcodes: it has no instructions",
            path.display()
        ))
        .with_hint("record it again with `snakescope record --opcodes -o FILE.json -- ...` or `snakescope run --opcodes -o FILE.json ...`")
    })?;
    let code = find::function(opcodes, &args.function, path)?;
    let table = opcodes.table.as_ref();
    let view = function_view(code, table);
    let mut sources = SourceLines::default();
    if args.json {
        let value = json::function_json(&capture, code, &view, &mut sources);
        crate::to_stdout(|out| {
            serde_json::to_writer_pretty(&mut *out, &value)?;
            writeln!(out)
        })?;
        return Ok(0);
    }
    crate::to_stdout(|out| {
        writeln!(out, "{}", heading(&capture, code, table.is_some()))?;
        writeln!(
            out,
            "{} samples in the function itself, {} with it on the stack\n",
            code.self_samples, code.total_samples
        )?;
        write_function(out, &view, &code.file, &mut sources, "")
    })?;
    Ok(0)
}

/// `name (file:line), Python X` and what the instruction names are.
fn heading(capture: &Capture, code: &snakescope_model::CodeSamples, named: bool) -> String {
    let name = code.qualname.as_deref().unwrap_or(&code.function);
    let python = capture
        .meta
        .python_version
        .as_deref()
        .map(|v| format!(", Python {v}"))
        .unwrap_or_default();
    let names = if named {
        ""
    } else {
        " (no opcode table was recorded: opcodes as numbers)"
    };
    snakescope_formats::printable::escape_controls(&format!(
        "{name} ({}:{}){python}{names}",
        code.file, code.first_line
    ))
    .into_owned()
}

/// Puts what `--opcodes` recorded into a `record` capture: the sampler's
/// counts and the opcode table of the interpreter at `python` (the target's
/// executable, read while it ran). A table that cannot be had is noted
/// (unless `quiet`); the instructions are then shown as numbers.
pub(crate) fn add_recorded(
    capture: &mut Capture,
    opcodes: Option<Opcodes>,
    python: Option<&table::Executable>,
    quiet: bool,
) {
    let Some(mut opcodes) = opcodes else { return };
    let version = capture.meta.python_version.clone().unwrap_or_default();
    let asked = match python {
        Some(python) => table::ask_interpreter(python, &version),
        None => Err("the target's executable was not found".to_owned()),
    };
    match asked {
        Ok(table) => opcodes.table = Some(table),
        Err(why) if !quiet => crate::stderr_line(format_args!(
            "snakescope: no opcode table for --opcodes ({why}): `dis` will show opcodes as numbers"
        )),
        Err(_) => {}
    }
    capture.opcodes = Some(opcodes);
}
