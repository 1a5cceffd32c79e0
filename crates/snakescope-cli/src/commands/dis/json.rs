//! `dis --json`: the function, its lines and their instructions with
//! samples and shares, as one JSON object (docs/commands/dis.md).

use serde_json::{json, Value};
use snakescope_formats::dis::{percent, FunctionView, SourceLines};
use snakescope_model::{Capture, CodeSamples};

pub(super) fn function_json(
    capture: &Capture,
    code: &CodeSamples,
    view: &FunctionView,
    sources: &mut SourceLines,
) -> Value {
    let (all_self, all_total) = (view.self_samples, view.total_samples);
    let lines: Vec<Value> = view
        .groups
        .iter()
        .map(|g| {
            let instructions: Vec<Value> = g
                .instructions
                .iter()
                .map(|s| {
                    let i = &s.instruction;
                    json!({
                        "offset": i.offset,
                        "opcode": i.opcode,
                        "opname": i.name,
                        "generic": i.generic,
                        "arg": i.arg,
                        "self": s.self_samples,
                        "total": s.total,
                        "self_share": percent(s.self_samples, all_self) / 100.0,
                        "total_share": percent(s.total, all_total) / 100.0,
                    })
                })
                .collect();
            json!({
                "line": g.line,
                "source": (g.line > 0).then(|| sources.line(&code.file, g.line)).flatten(),
                "self": g.self_samples,
                "total": g.total,
                "self_share": percent(g.self_samples, all_self) / 100.0,
                "total_share": percent(g.total, all_total) / 100.0,
                "instructions": instructions,
            })
        })
        .collect();
    json!({
        "function": code.function,
        "qualname": code.qualname,
        "file": code.file,
        "first_line": code.first_line,
        "python_version": capture.meta.python_version,
        "opcode_table": capture.opcodes.as_ref().is_some_and(|o| o.table.is_some()),
        "self_samples": code.self_samples,
        "total_samples": code.total_samples,
        "unplaced_self": view.unplaced_self,
        "lines": lines,
    })
}
