//! Where the Python frames go in a native stack: each native call of the
//! evaluation loop (`_PyEval_EvalFrameDefault`) is replaced by the Python
//! frames it runs — one on 3.8–3.10, a run of them from an entry frame on
//! 3.11+ ([`snakescope_unwind::Walker::eval_entries`]). The interpreter's
//! other native frames are left out (what it does between two Python frames
//! is Python time), and so are the C library's frames it calls directly; an
//! extension's frames stay where they are, with what they call. A thread
//! waiting for the GIL keeps the one frame that waits (`take_gil`), its
//! innermost. Native frames outside the first Python frame (`_start`,
//! `main`, `Py_RunMain`, a thread's start routine) are left out, so a stack
//! starts where it does without `--native`.

use super::modules::ModuleKind;

/// What the merge needs to know of a native frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeInfo {
    pub kind: ModuleKind,
    /// A call of the evaluation loop.
    pub eval: bool,
    /// The interpreter waiting to take the GIL.
    pub gil_wait: bool,
}

/// One frame of a merged stack, root first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// The Python frame at this index (root first).
    Python(usize),
    /// The native frame at this index (innermost first, as unwound).
    Native(usize),
}

/// Whether a symbol is the evaluation loop (its cold part included).
pub fn is_eval(symbol: &str) -> bool {
    symbol
        .strip_prefix("_PyEval_EvalFrameDefault")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The interpreter's functions a thread waits for the GIL in; the model's
/// classification knows them by the same names.
pub fn is_gil_wait(symbol: &str) -> bool {
    snakescope_model::GIL_WAIT_FUNCTIONS.iter().any(|f| {
        symbol
            .strip_prefix(f)
            .is_some_and(|r| r.is_empty() || r.starts_with('.'))
    })
}

/// Merges `natives` (innermost first) with the Python frames whose entry
/// flags are `entries` (root first) into `out`, root first. False when the
/// eval calls and the Python entry frames do not pair up (a stack caught
/// between entering the eval loop and pushing its frame, or an unwind cut
/// short); they are then paired as far as they go from the side that is
/// whole: from the root when there are more eval calls (the innermost has
/// no frame yet), else from the innermost (the outermost calls were not
/// unwound), the outermost call taking the Python frames left over.
pub fn merge(natives: &[NativeInfo], entries: &[bool], out: &mut Vec<Item>) -> bool {
    out.clear();
    let mut groups = group_starts(entries);
    groups.push(entries.len());
    let groups_n = groups.len() - 1;
    let evals = natives.iter().filter(|n| n.eval).count();
    let Some(outermost) = natives.iter().rposition(|n| n.eval) else {
        out.extend((0..entries.len()).map(Item::Python));
        return entries.is_empty();
    };
    // Python frames [from, to) of the eval call numbered `k` from the root.
    let spare = groups_n.saturating_sub(evals);
    let frames_of = |k: usize| -> std::ops::Range<usize> {
        let (first, last) = if k == 0 {
            (0, spare)
        } else {
            (k + spare, k + spare)
        };
        match (groups.get(first), groups.get(last + 1)) {
            (Some(&from), Some(&to)) => from..to,
            _ => 0..0,
        }
    };
    let mut k = 0;
    // The nearest caller that is not the C library: whether a C library
    // frame was called by the interpreter (left out) or by an extension.
    let mut caller = ModuleKind::Interpreter;
    for (i, n) in natives.iter().enumerate().take(outermost + 1).rev() {
        if n.eval {
            out.extend(frames_of(k).map(Item::Python));
            k += 1;
            caller = ModuleKind::Interpreter;
            continue;
        }
        match n.kind {
            ModuleKind::Interpreter if n.gil_wait => {
                out.push(Item::Native(i));
                break;
            }
            ModuleKind::Interpreter => caller = ModuleKind::Interpreter,
            ModuleKind::System if caller == ModuleKind::Interpreter => {}
            ModuleKind::System => out.push(Item::Native(i)),
            ModuleKind::Other => {
                caller = ModuleKind::Other;
                out.push(Item::Native(i));
            }
        }
    }
    evals == groups_n
}

/// Where each eval call's run of Python frames starts (root first); the
/// root frame starts one whatever its flag says.
fn group_starts(entries: &[bool]) -> Vec<usize> {
    let mut starts: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(i, &e)| e || *i == 0)
        .map(|(i, _)| i)
        .collect();
    starts.dedup();
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use Item::{Native, Python};
    use ModuleKind::{Interpreter as I, Other as O, System as S};

    fn n(kind: ModuleKind) -> NativeInfo {
        NativeInfo {
            kind,
            eval: false,
            gil_wait: false,
        }
    }
    fn eval() -> NativeInfo {
        NativeInfo {
            kind: I,
            eval: true,
            gil_wait: false,
        }
    }

    #[test]
    fn an_extension_call_sits_under_its_python_line() {
        // Innermost first: kernel in BLAS ← BLAS ← numpy ← PyObject_Call ←
        // eval (3 Python frames of one call: 3.11+) ← main ← _start.
        let natives = [n(O), n(O), n(O), n(I), eval(), n(I), n(S)];
        let mut out = Vec::new();
        assert!(merge(&natives, &[true, false, false], &mut out));
        assert_eq!(
            out,
            [
                Python(0),
                Python(1),
                Python(2),
                Native(2),
                Native(1),
                Native(0)
            ]
        );
    }

    #[test]
    fn python_called_back_from_c_goes_between_the_c_frames() {
        // qsort (libc) calling back into Python through a ctypes thunk.
        let natives = [eval(), n(I), n(O), n(S), n(O), n(I), eval(), n(I)];
        let mut out = Vec::new();
        assert!(merge(&natives, &[true, true], &mut out));
        assert_eq!(out, [Python(0), Native(4), Native(3), Native(2), Python(1)]);
    }

    #[test]
    fn c_library_calls_of_the_interpreter_are_python_time() {
        let natives = [n(S), n(I), eval(), n(I)];
        let mut out = Vec::new();
        assert!(merge(&natives, &[true], &mut out));
        assert_eq!(out, [Python(0)]);
    }

    #[test]
    fn gil_waits_keep_the_waiting_frame_only() {
        let wait = NativeInfo {
            kind: I,
            eval: false,
            gil_wait: true,
        };
        let natives = [n(S), n(S), wait, n(I), eval()];
        let mut out = Vec::new();
        assert!(merge(&natives, &[true], &mut out));
        assert_eq!(out, [Python(0), Native(2)]);
    }

    #[test]
    fn an_eval_call_without_its_frame_yet_gets_none() {
        // Python 0 → C → eval (frame 1) → C → eval (its frame not pushed yet).
        let natives = [n(I), eval(), n(O), eval(), n(O), eval()];
        let mut out = Vec::new();
        assert!(!merge(&natives, &[true, true], &mut out));
        assert_eq!(out, [Python(0), Native(4), Python(1), Native(2)]);
    }

    #[test]
    fn a_cut_short_unwind_pairs_from_the_innermost() {
        // Three eval calls' frames, only the inner two unwound.
        let natives = [n(O), eval(), n(O), eval()];
        let mut out = Vec::new();
        assert!(!merge(&natives, &[true, true, true], &mut out));
        assert_eq!(out, [Python(0), Python(1), Native(2), Python(2), Native(0)]);
    }

    #[test]
    fn names() {
        assert!(is_eval("_PyEval_EvalFrameDefault"));
        assert!(is_eval("_PyEval_EvalFrameDefault.cold"));
        assert!(!is_eval("_PyEval_EvalFrameDefaultX"));
        assert!(is_gil_wait("take_gil"));
        assert!(!is_gil_wait("drop_gil"));
    }
}
