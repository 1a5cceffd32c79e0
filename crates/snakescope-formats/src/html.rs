//! One self-contained HTML report (`--format html`, `*.html`): header, flame
//! graph, call tree, function table, annotated source, threads, and the
//! findings and memory sections, in a single file that needs no network.
//!
//! The page embeds the capture itself (`docs/capture-format.md`, compact JSON
//! in `<script type="application/json" id="snakescope-capture">`) and the text
//! of the hottest source files (`id="snakescope-sources"`); the inlined script
//! (`assets/report.js`, with `assets/report.css`) builds every view from them
//! in the browser. So any key a later capture version adds (a `memory` section,
//! `findings`, extra `meta` fields) reaches the page without a change here.
//!
//! This is the one writer that reads files other than its input: the source
//! files named in the capture, at render time, as paths relative to the
//! current directory when they are relative. A file that cannot be read is
//! listed as unavailable with the reason; one modified after the recording
//! ended is flagged, since its lines may no longer match.

use crate::text::command_line;
use serde::{Deserialize, Serialize};
use snakescope_model::Capture;
use std::collections::HashMap;
use std::io::{self, Write};
use std::time::UNIX_EPOCH;

const CSS: &str = include_str!("../assets/report.css");
const JS: &str = include_str!("../assets/report.js");

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
}

#[derive(Debug, Serialize)]
struct Sources<'a> {
    files: Vec<SourceFile<'a>>,
}

/// Writes the report, reading the hottest source files from disk.
pub(crate) fn write(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    write_with(capture, &read_source, out)
}

/// Writes the report with `read` supplying each source file's text.
pub(crate) fn write_with(
    capture: &Capture,
    read: &dyn Fn(&str) -> Source,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut capture_json = Vec::new();
    serde_json::to_writer(&mut capture_json, capture)?;
    render(capture, &capture_json, read, out)
}

/// Writes the report for `capture`, whose JSON is `capture_json` (which may
/// carry sections this build does not model, such as `memory`).
fn render(
    capture: &Capture,
    capture_json: &[u8],
    read: &dyn Fn(&str) -> Source,
    out: &mut dyn Write,
) -> io::Result<()> {
    let memory = allocated_by_frame(capture_json);
    let sources = sources(capture, &memory, read);
    let mut sources_json = Vec::new();
    serde_json::to_writer(&mut sources_json, &sources)?;
    write_document(
        &command_line(&capture.meta),
        capture_json,
        &sources_json,
        out,
    )
}

/// The page around the two JSON blocks.
fn write_document(
    command: &str,
    capture_json: &[u8],
    sources_json: &[u8],
    out: &mut dyn Write,
) -> io::Result<()> {
    let command = escape_html(command);
    let version = env!("CARGO_PKG_VERSION");
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"snakescope {version}\">\n\
         <title>snakescope: {command}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <nav id=\"nav\"></nav>\n\
         <header id=\"header\"><h1>snakescope: <span class=\"cmd\">{command}</span></h1>\
         <dl id=\"meta\"></dl></header>\n\
         <noscript><p class=\"note\">This report draws its views with JavaScript, \
         which is turned off; the capture is embedded in the page as JSON.</p></noscript>\n\
         <main>\n"
    )?;
    for (id, title) in SECTIONS {
        let hidden = if *id == "memory" { " hidden" } else { "" };
        writeln!(
            out,
            "<section id=\"{id}\"{hidden}><h2>{title}</h2><div class=\"body\"></div></section>"
        )?;
    }
    out.write_all(b"</main>\n<footer id=\"footer\"></footer>\n")?;
    out.write_all(b"<script type=\"application/json\" id=\"snakescope-capture\">")?;
    write_script_safe(capture_json, out)?;
    out.write_all(b"</script>\n<script type=\"application/json\" id=\"snakescope-sources\">")?;
    write_script_safe(sources_json, out)?;
    write!(
        out,
        "</script>\n<script>\n{JS}</script>\n</body>\n</html>\n"
    )
}

/// The page's sections, in order: (element id, heading).
const SECTIONS: &[(&str, &str)] = &[
    ("findings", "Findings"),
    ("flame", "Flame graph"),
    ("tree", "Call tree"),
    ("functions", "Functions"),
    ("source", "Annotated source"),
    ("threads", "Threads"),
    ("memory", "Memory"),
];

/// Writes JSON inside a `<script>` element: `<` only occurs in JSON strings,
/// where `\u003c` means the same, so no `</script>` or `<!--` can end it early.
fn write_script_safe(json: &[u8], out: &mut dyn Write) -> io::Result<()> {
    for (i, part) in json.split(|&b| b == b'<').enumerate() {
        if i > 0 {
            out.write_all(b"\\u003c")?;
        }
        out.write_all(part)?;
    }
    Ok(())
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The files worth annotating, hottest first, with their text.
fn sources<'a>(
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
/// when it has them: read from the JSON, so the report needs no change when the
/// memory model grows.
fn allocated_by_frame(capture_json: &[u8]) -> Vec<(usize, u64)> {
    #[derive(Deserialize)]
    struct View {
        #[serde(default)]
        memory: Option<MemoryView>,
    }
    #[derive(Deserialize)]
    struct MemoryView {
        #[serde(default)]
        sites: Vec<SiteView>,
    }
    #[derive(Deserialize)]
    struct SiteView {
        #[serde(default)]
        frames: Vec<usize>,
        #[serde(default)]
        allocated_bytes: u64,
    }
    let Ok(view) = serde_json::from_slice::<View>(capture_json) else {
        return Vec::new();
    };
    view.memory
        .map(|m| m.sites)
        .unwrap_or_default()
        .into_iter()
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
fn read_source(path: &str) -> Source {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{capture, empty_capture};
    use snakescope_model::Frame;

    fn fake_read(path: &str) -> Source {
        match path {
            "/src/app.py" => Source::Text {
                text: (1..=30).map(|i| format!("line {i} </script>\n")).collect(),
                modified: Some(1_000.0),
            },
            "/src/util.py" => Source::Text {
                text: "def helper():\n    pass\n".into(),
                modified: Some(1_795_000_100.0),
            },
            _ => Source::Unavailable("file not found".into()),
        }
    }

    fn page(capture: &Capture) -> String {
        let mut out = Vec::new();
        write_with(capture, &fake_read, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The text of `<script type="application/json" id="ID">`, parsed.
    fn json_block(html: &str, id: &str) -> serde_json::Value {
        let open = format!("<script type=\"application/json\" id=\"{id}\">");
        let start = html.find(&open).expect("json block") + open.len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end]).unwrap()
    }

    #[test]
    fn one_document_with_every_section() {
        let html = page(&capture());
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.trim_end().ends_with("</html>"));
        assert!(html.contains("<title>snakescope: python3 app.py --size &#39;big one&#39;</title>"));
        for (id, _) in SECTIONS {
            assert_eq!(
                html.matches(&format!("<section id=\"{id}\"")).count(),
                1,
                "{id}"
            );
        }
        assert!(html.contains("<section id=\"memory\" hidden>"));
        // Three scripts: the two data blocks and the inlined program; one style.
        assert_eq!(html.matches("<script").count(), 3);
        assert_eq!(html.matches("</script>").count(), 3);
        assert_eq!(html.matches("<style>").count(), 1);
    }

    #[test]
    fn self_contained() {
        let html = page(&capture());
        for needle in [
            "src=",
            "href=\"http",
            "@import",
            "url(",
            "<link",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!html.contains(needle), "the page refers to {needle}");
        }
        for asset in [CSS, JS] {
            assert!(
                !asset.contains("</script"),
                "an asset would end its element"
            );
            assert!(!asset.contains("</style"), "an asset would end its element");
        }
    }

    #[test]
    fn embeds_the_capture_unchanged() {
        let html = page(&capture());
        let value = json_block(&html, "snakescope-capture");
        let back: Capture = serde_json::from_value(value).unwrap();
        assert_eq!(back, capture());
    }

    #[test]
    fn embeds_the_hottest_sources_safely() {
        let html = page(&capture());
        let sources = json_block(&html, "snakescope-sources");
        let files = sources["files"].as_array().unwrap();
        // app.py: self 80, total 90; util.py: self 20, total 20;
        // threading.py: total 10 (10 %), never a leaf.
        let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/src/app.py",
                "/src/util.py",
                "/usr/lib/python3.11/threading.py"
            ]
        );
        assert_eq!(files[0]["self_samples"], 80);
        assert_eq!(files[0]["total_samples"], 90);
        assert_eq!(files[0]["modified_after_recording"], false);
        assert!(files[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("line 1 </script>\n"));
        assert_eq!(files[1]["modified_after_recording"], true);
        assert_eq!(files[2]["unavailable"], "file not found");
        assert!(files[2].get("text").is_none());
        // The source's `</script>` is escaped inside the JSON block.
        assert!(!html.contains("line 1 </script>"));
        assert!(html.contains("line 1 \\u003c/script>"));
    }

    #[test]
    fn empty_capture_is_still_a_page() {
        let html = page(&empty_capture());
        assert!(html.contains("<section id=\"flame\">"));
        assert_eq!(
            json_block(&html, "snakescope-sources")["files"],
            serde_json::json!([])
        );
    }

    #[test]
    fn memory_and_other_new_keys_reach_the_page() {
        // A capture JSON carrying a key this build does not model is embedded as given.
        let json = br#"{"format":"snakescope-capture","memory":{"note":"<b>"}}"#;
        let mut out = Vec::new();
        write_document("x", json, b"{\"files\":[]}", &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert_eq!(
            json_block(&html, "snakescope-capture")["memory"]["note"],
            "<b>"
        );
    }

    #[test]
    fn files_that_allocated_are_annotated_too() {
        let mut capture = capture();
        capture.frames.push(Frame {
            function: "load".into(),
            qualname: None,
            file: "/src/alloc.py".into(),
            line: 3,
        });
        capture.frames.push(Frame {
            function: "tiny".into(),
            qualname: None,
            file: "/src/tiny.py".into(),
            line: 1,
        });
        let mut value = serde_json::to_value(&capture).unwrap();
        value["memory"] = serde_json::json!({
            "mode": "exact",
            "sites": [
                {"frames": [0, 5], "allocated_bytes": 100_000},
                {"frames": [0, 6], "allocated_bytes": 10},
                {"frames": [], "allocated_bytes": 5},
            ],
        });
        let json = serde_json::to_vec(&value).unwrap();
        let mut out = Vec::new();
        super::render(&capture, &json, &fake_read, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        let files = json_block(&html, "snakescope-sources")["files"].clone();
        let paths: Vec<&str> = files
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "/src/app.py",
                "/src/util.py",
                "/usr/lib/python3.11/threading.py",
                "/src/alloc.py"
            ]
        );
        assert_eq!(files[3]["allocated_bytes"], 100_000);
        assert_eq!(files[3]["self_samples"], 0);
        // The memory section reaches the page as recorded.
        assert_eq!(
            json_block(&html, "snakescope-capture")["memory"],
            value["memory"]
        );
    }

    #[test]
    fn reads_real_files_and_says_why_not() {
        let dir = std::env::temp_dir().join(format!("snakescope-html-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.py");
        std::fs::write(&file, "x = 1\n").unwrap();
        match read_source(file.to_str().unwrap()) {
            Source::Text { text, modified } => {
                assert_eq!(text, "x = 1\n");
                assert!(modified.unwrap() > 1.0e9);
            }
            other => panic!("{other:?}"),
        }
        let missing = dir.join("missing.py");
        assert_eq!(
            read_source(missing.to_str().unwrap()),
            Source::Unavailable("file not found".into())
        );
        assert_eq!(
            read_source("<frozen importlib._bootstrap>"),
            Source::Unavailable("not a file".into())
        );
        assert_eq!(
            read_source(dir.to_str().unwrap()),
            Source::Unavailable("not a regular file".into())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
