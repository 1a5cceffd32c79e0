//! The source files the report annotates: the hottest by self samples, by
//! total and by bytes allocated, each read from disk (or why not).

use super::instructions::{instructions_of, InstructionRow};
use serde::Serialize;
use snakescope_model::Capture;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::time::UNIX_EPOCH;

/// Files annotated at most: the hottest by self samples, then by total, then
/// by bytes allocated (when memory was recorded).
const MAX_FILES_BY_SELF: usize = 8;
const MAX_FILES: usize = 12;
/// A file is annotated when its lines ran at least this share of the samples
/// (self), were on the stack for at least `MIN_TOTAL_SHARE` (total), or
/// allocated at least `MIN_MEMORY_SHARE` of the bytes.
const MIN_SELF_SHARE: f64 = 0.001;
const MIN_TOTAL_SHARE: f64 = 0.01;
const MIN_MEMORY_SHARE: f64 = 0.01;
/// Larger source files are not embedded (a generated file, not code to read).
const MAX_SOURCE_BYTES: u64 = 2 << 20;

/// What reading one source file gave.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// The text, and when the file was last modified (seconds since the epoch).
    Text { text: String, modified: Option<f64> },
    /// Why there is no text, for the reader of the report.
    Unavailable(String),
}

/// One annotated file as the page receives it.
#[derive(Debug, Serialize)]
struct SourceFile<'a> {
    path: &'a str,
    self_samples: u64,
    total_samples: u64,
    /// Bytes allocated with this file's lines innermost (0 without memory data).
    allocated_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
    /// The file changed after the recording ended: its lines may have moved.
    modified_after_recording: bool,
    /// With `--opcodes`: each line's sampled instructions.
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<BTreeMap<u32, Vec<InstructionRow>>>,
}

#[derive(Debug, Serialize)]
pub(super) struct Sources<'a> {
    files: Vec<SourceFile<'a>>,
}

/// The files worth annotating, hottest first, with their text.
pub(super) fn sources<'a>(
    capture: &'a Capture,
    memory: &[(usize, u64)],
    read: &dyn Fn(&str) -> Source,
) -> Sources<'a> {
    let recording_end = if capture.meta.started_unix_s > 0.0 {
        Some(capture.meta.started_unix_s + capture.meta.duration_s)
    } else {
        None
    };
    let files = hot_files(capture, memory)
        .into_iter()
        .map(
            |HotFile {
                 path,
                 self_samples,
                 total_samples,
                 allocated_bytes,
             }| {
                let (text, unavailable, modified_after_recording) = match read(path) {
                    Source::Text { text, modified } => {
                        let after =
                            matches!((modified, recording_end), (Some(m), Some(end)) if m > end);
                        (Some(text), None, after)
                    }
                    Source::Unavailable(why) => (None, Some(why), false),
                };
                SourceFile {
                    instructions: instructions_of(capture, path),
                    path,
                    self_samples,
                    total_samples,
                    allocated_bytes,
                    text,
                    unavailable,
                    modified_after_recording,
                }
            },
        )
        .collect();
    Sources { files }
}

/// The bytes allocated per innermost frame, from the capture's `memory.sites`
/// when it has them.
pub(super) fn allocated_by_frame(capture: &Capture) -> Vec<(usize, u64)> {
    let Some(memory) = &capture.memory else {
        return Vec::new();
    };
    memory
        .sites
        .iter()
        .filter_map(|s| Some((*s.frames.last()?, s.allocated_bytes)))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct HotFile<'a> {
    path: &'a str,
    self_samples: u64,
    total_samples: u64,
    allocated_bytes: u64,
}

/// The files to annotate: those whose lines were the leaf of at least
/// `MIN_SELF_SHARE` of the samples, hottest first (at most
/// `MAX_FILES_BY_SELF`), then those on the stack for at least
/// `MIN_TOTAL_SHARE`, then those that allocated at least `MIN_MEMORY_SHARE` of
/// the bytes, up to `MAX_FILES` in all.
fn hot_files<'a>(capture: &'a Capture, memory: &[(usize, u64)]) -> Vec<HotFile<'a>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut files: Vec<HotFile> = Vec::new();
    let frame_file: Vec<usize> = capture
        .frames
        .iter()
        .map(|f| {
            *index.entry(f.file.as_str()).or_insert_with(|| {
                files.push(HotFile {
                    path: f.file.as_str(),
                    self_samples: 0,
                    total_samples: 0,
                    allocated_bytes: 0,
                });
                files.len() - 1
            })
        })
        .collect();
    let mut seen = vec![usize::MAX; files.len()];
    for (i, stack) in capture.stacks.iter().enumerate() {
        if let Some(&leaf) = stack.frames.last() {
            files[frame_file[leaf]].self_samples += stack.count;
        }
        for &f in &stack.frames {
            let file = frame_file[f];
            if seen[file] != i {
                seen[file] = i;
                files[file].total_samples += stack.count;
            }
        }
    }
    let mut bytes = 0;
    for &(frame, allocated) in memory {
        if let Some(&file) = frame_file.get(frame) {
            files[file].allocated_bytes += allocated;
            bytes += allocated;
        }
    }
    let samples = capture.total_samples();
    let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut chosen: Vec<HotFile> = Vec::new();
    let by_self = |f: &HotFile| (f.self_samples, f.total_samples);
    let mut self_hot: Vec<HotFile> = files
        .iter()
        .copied()
        .filter(|f| f.self_samples > 0)
        .collect();
    self_hot.sort_by(|a, b| (by_self(b), a.path).cmp(&(by_self(a), b.path)));
    for (i, f) in self_hot.into_iter().enumerate() {
        if chosen.len() < MAX_FILES_BY_SELF
            && (i == 0 || share(f.self_samples, samples) >= MIN_SELF_SHARE)
        {
            chosen.push(f);
        }
    }
    let by_total = |f: &HotFile| (f.total_samples, f.self_samples);
    let mut total_hot: Vec<HotFile> = files
        .iter()
        .copied()
        .filter(|f| share(f.total_samples, samples) >= MIN_TOTAL_SHARE)
        .collect();
    total_hot.sort_by(|a, b| (by_total(b), a.path).cmp(&(by_total(a), b.path)));
    let mut memory_hot: Vec<HotFile> = files
        .iter()
        .copied()
        .filter(|f| f.allocated_bytes > 0 && share(f.allocated_bytes, bytes) >= MIN_MEMORY_SHARE)
        .collect();
    memory_hot.sort_by(|a, b| (b.allocated_bytes, a.path).cmp(&(a.allocated_bytes, b.path)));
    for f in total_hot.into_iter().chain(memory_hot) {
        if chosen.len() < MAX_FILES && !chosen.iter().any(|c| c.path == f.path) {
            chosen.push(f);
        }
    }
    chosen
}

/// Reads a source file named in the capture.
pub(crate) fn read_source(path: &str) -> Source {
    if path.starts_with('<') {
        // `<frozen importlib._bootstrap>`, `<string>`, `<stdin>`: not files.
        return Source::Unavailable("not a file".into());
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => return Source::Unavailable("not a regular file".into()),
        Err(e) => return Source::Unavailable(reason(&e)),
    };
    if meta.len() > MAX_SOURCE_BYTES {
        return Source::Unavailable(format!("file too large to embed ({} bytes)", meta.len()));
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    match std::fs::read(path) {
        Ok(bytes) => Source::Text {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            modified,
        },
        Err(e) => Source::Unavailable(reason(&e)),
    }
}

fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "file not found".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
