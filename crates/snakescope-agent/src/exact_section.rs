//! `--exact`'s tables (see [`crate::exact`]) as the capture's `exact`
//! section: each profiled object labelled as cProfile labels it, snakescope's
//! own code left out, callees turned into callers. Unlike cProfile, two code
//! objects with the same file, first line and name stay two rows (the
//! second's name gets ` [2]`).

use crate::exact::{Counts, Entry};
use crate::ptrmap::PtrMap;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use snakescope_model::{
    CaptureBuilder, ExactCaller, ExactFunction, ExactStats, Frame, SECTION_VERSION,
};

/// The section of `merged` (from [`crate::exact::drain`]), its functions'
/// frames interned in `builder`. Code from `hide_files` and snakescope's
/// native functions are left out, as callers too.
pub(crate) fn build(
    py: Python<'_>,
    merged: &PtrMap<Entry>,
    secs_per_tick: f64,
    hide_files: &[String],
    builder: &mut CaptureBuilder,
) -> PyResult<ExactStats> {
    let mut functions: Vec<ExactFunction> = Vec::new();
    // Function index of each key; of each frame: built-ins cProfile cannot
    // tell apart are one function, code objects never (see `labelled`).
    let mut index: PtrMap<usize> = PtrMap::default();
    let mut by_frame: std::collections::HashMap<usize, usize> = Default::default();
    for (key, e, frame, code) in labelled(py, merged, hide_files)? {
        let mut id = builder.intern_frame(frame.clone());
        if code {
            // Another code object with the same file, line and name (two
            // `timeit.Timer`s, a module executed twice): a row of its own.
            let mut n = 1;
            while by_frame.contains_key(&id) {
                n += 1;
                id = builder.intern_frame(numbered(&frame, n));
            }
        }
        let i = *by_frame.entry(id).or_insert_with(|| {
            functions.push(ExactFunction {
                frame: id,
                ..ExactFunction::default()
            });
            functions.len() - 1
        });
        let (calls, primitive_calls, tottime_s, cumtime_s) = figures(&e.counts, secs_per_tick);
        let f = &mut functions[i];
        f.calls += calls;
        f.primitive_calls += primitive_calls;
        f.tottime_s += tottime_s;
        f.cumtime_s += cumtime_s;
        index.insert(key, i);
    }
    for (key, e) in merged {
        let Some(&caller) = index.get(key) else {
            continue;
        };
        for (callee, c) in &e.callees {
            match index.get(callee) {
                Some(&callee) if c.calls > 0 => {
                    add_caller(&mut functions[callee], caller, figures(c, secs_per_tick));
                }
                _ => {}
            }
        }
    }
    Ok(ExactStats {
        version: SECTION_VERSION,
        functions,
    })
}

/// The entries with calls, not snakescope's own: (key, entry, frame, whether
/// a code object), in an order that does not depend on addresses (so the
/// `[2]` of a second same-named code object goes to the same one each run:
/// the one with fewer calls, then less time).
fn labelled<'m>(
    py: Python<'_>,
    merged: &'m PtrMap<Entry>,
    hide_files: &[String],
) -> PyResult<Vec<(usize, &'m Entry, Frame, bool)>> {
    let mut out = Vec::new();
    for (key, e) in merged {
        if e.counts.calls == 0 {
            continue;
        }
        let object = borrowed(py, e.object);
        let code = object.hasattr("co_firstlineno")?;
        if let Some(frame) = label(&object, hide_files)? {
            out.push((*key, e, frame, code));
        }
    }
    out.sort_by(|a, b| {
        let order = |x: &(usize, &Entry, Frame, bool)| {
            (
                x.2.file.clone(),
                x.2.line,
                x.2.function.clone(),
                std::cmp::Reverse(x.1.counts.calls),
                std::cmp::Reverse(x.1.counts.total_ticks),
            )
        };
        order(a).cmp(&order(b))
    });
    Ok(out)
}

/// The `n`th code object labelled `frame`: `name [n]`.
fn numbered(frame: &Frame, n: usize) -> Frame {
    Frame {
        function: format!("{} [{n}]", frame.function),
        qualname: frame.qualname.as_ref().map(|q| format!("{q} [{n}]")),
        ..frame.clone()
    }
}

/// lsprof's counts as (calls, primitive calls, tottime, cumtime).
fn figures(c: &Counts, secs_per_tick: f64) -> (u64, u64, f64, f64) {
    (
        c.calls,
        c.calls.saturating_sub(c.recursive_calls),
        c.inline_ticks as f64 * secs_per_tick,
        c.total_ticks as f64 * secs_per_tick,
    )
}

fn add_caller(callee: &mut ExactFunction, caller: usize, (n, p, tt, ct): (u64, u64, f64, f64)) {
    let row = match callee.callers.iter_mut().find(|c| c.function == caller) {
        Some(row) => row,
        None => {
            callee.callers.push(ExactCaller {
                function: caller,
                ..ExactCaller::default()
            });
            callee.callers.last_mut().expect("just pushed")
        }
    };
    row.calls += n;
    row.primitive_calls += p;
    row.tottime_s += tt;
    row.cumtime_s += ct;
}

fn borrowed(py: Python<'_>, object: usize) -> Bound<'_, PyAny> {
    // SAFETY: the entry holds a strong reference to its object until
    // `exact::release`; borrowing it adds one more for the Bound. GIL held.
    unsafe { Bound::from_borrowed_ptr(py, object as *mut pyo3::ffi::PyObject) }
}

/// The frame pstats keys the object by, or `None` for snakescope's own:
/// a code object's file, first line and name (its qualified name too, where
/// the interpreter has one); a built-in's cProfile label, file `~`, line 0.
fn label(object: &Bound<'_, PyAny>, hide_files: &[String]) -> PyResult<Option<Frame>> {
    // A code object (`types.CodeType` is not in the limited API).
    if object.hasattr("co_firstlineno")? {
        let file: String = object.getattr("co_filename")?.extract()?;
        if hide_files.contains(&file) {
            return Ok(None);
        }
        let qualname = match object.getattr("co_qualname") {
            Ok(q) => Some(q.extract::<String>()?),
            Err(_) => None,
        };
        return Ok(Some(Frame {
            function: object.getattr("co_name")?.extract()?,
            qualname,
            file,
            line: object.getattr("co_firstlineno")?.extract()?,
        }));
    }
    let module = object.getattr("__module__")?;
    if module.extract::<String>().ok().as_deref() == Some("snakescope._native") {
        return Ok(None);
    }
    Ok(Some(Frame {
        function: builtin_label(object, &module)?,
        qualname: None,
        file: "~".to_owned(),
        line: 0,
    }))
}

/// cProfile's name for a built-in function or method (`normalizeUserObj`
/// in `Modules/_lsprof.c`).
fn builtin_label(f: &Bound<'_, PyAny>, module: &Bound<'_, PyAny>) -> PyResult<String> {
    let name: String = f.getattr("__name__")?.extract()?;
    let owner = f.getattr("__self__")?;
    let module: Option<String> = module.extract().ok();
    if owner.is_none() {
        return Ok(match module.as_deref() {
            Some(m) if !m.is_empty() && m != "builtins" => format!("<{m}.{name}>"),
            _ => format!("<{name}>"),
        });
    }
    if !owner.is_instance_of::<PyModule>() {
        let mro = owner.get_type().getattr("__mro__")?;
        for klass in mro.try_iter()? {
            let dict = klass?.getattr("__dict__")?;
            if let Ok(method) = dict.get_item(&name) {
                return method.repr()?.extract();
            }
        }
    }
    Ok(match module {
        Some(m) => format!("<built-in method {m}.{name}>"),
        None => format!("<built-in method {name}>"),
    })
}
