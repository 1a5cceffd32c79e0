//! Every output format, declared once: its name on the command line, the
//! file names that imply it, the name of the file written when none is
//! given, the parts of a capture it draws, and its writer. `record`, `run`,
//! `report`, `diff` and the Python package (`_native.formats()`) all read
//! this table; none of them names a format or an extension of its own.
//!
//! Adding a format: a writer module, one [`Format`] variant and one entry in
//! [`FORMATS`] (in the variant's position: a compile-time check holds them
//! in step).

use crate::memory::MemoryMetric;
use crate::FormatError;
use crate::{chrome, collapsed, flamegraph, html, json, memory, pprof, pstats, speedscope, text};
use snakescope_model::Capture;
use std::io::Write;
use std::path::Path;

/// The file written when no name is given: `snakescope-PID` and the
/// format's [`Spec::default_suffix`].
const DEFAULT_FILE_STEM: &str = "snakescope";

/// An output format (its properties: [`Format::spec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Flamegraph,
    Speedscope,
    Collapsed,
    Json,
    Text,
    Html,
    Pprof,
    Chrome,
    Timeline,
    Pstats,
}

/// A part of what was measured, which a format may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// Sampled stacks with their counts (`record`, `run`).
    Samples,
    /// Memory: allocation sites, the peak, the timeline (`run`).
    Memory,
    /// Exact function statistics: calls, primitive calls, times, callers
    /// (`run --exact`).
    Exact,
    /// Line timings: hits and time per line of selected functions
    /// (`@profile`, `run --lines`).
    Lines,
    /// Stacks weighted by bytes: a memory view (`report --memory peak`),
    /// drawn in bytes, never as time.
    MemoryStacks,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Section::Samples,
        Section::Memory,
        Section::Exact,
        Section::Lines,
        Section::MemoryStacks,
    ];

    /// The name the Python package sees.
    pub fn name(self) -> &'static str {
        match self {
            Section::Samples => "samples",
            Section::Memory => "memory",
            Section::Exact => "exact",
            Section::Lines => "lines",
            Section::MemoryStacks => "memory_stacks",
        }
    }

    /// What it is, in a sentence ("has no …").
    pub fn noun(self) -> &'static str {
        match self {
            Section::Samples => "sampled stacks",
            Section::Memory => "memory data",
            Section::Exact => "exact call counts",
            Section::Lines => "line timings",
            Section::MemoryStacks => "stacks weighted by bytes",
        }
    }

    /// What records it (a hint's "which … records").
    pub fn recorded_by(self) -> &'static str {
        match self {
            Section::Samples => "`snakescope record` or `snakescope run` (without --exact)",
            Section::Memory => "`snakescope run` (not with --exact or --memory off)",
            Section::Exact => "`snakescope run --exact` (or `snakescope.Profiler(exact=True)`)",
            Section::Lines => {
                "`snakescope run --lines` or `@profile` (or `snakescope.Profiler(lines=…)`)"
            }
            Section::MemoryStacks => "`snakescope report --memory allocated|peak|leaked`",
        }
    }

    /// The sections `capture` holds: its samples (even when there are none,
    /// unless it holds exact statistics or line timings instead), and its
    /// memory, exact statistics and line timings when recorded; a memory
    /// view holds its byte stacks alone.
    pub fn of(capture: &Capture) -> Vec<Section> {
        if MemoryMetric::of_view(capture).is_some() {
            return vec![Section::MemoryStacks];
        }
        let mut held = Vec::new();
        let measured = capture.exact.is_some() || capture.lines.is_some();
        if capture.total_samples() > 0 || !measured {
            held.push(Section::Samples);
        }
        let optional = [
            (capture.memory.is_some(), Section::Memory),
            (capture.exact.is_some(), Section::Exact),
            (capture.lines.is_some(), Section::Lines),
        ];
        held.extend(optional.iter().filter(|(has, _)| *has).map(|(_, s)| *s));
        held
    }
}

/// The kind of file a format writes, whatever reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Svg,
    Json,
    Text,
    Html,
    Pprof,
    Pstats,
}

impl Media {
    /// The ending that names the kind of file alone, not one format: a
    /// `.json` may hold speedscope or a Chrome trace as well as the capture,
    /// a `.txt` a text report as well as collapsed stacks, a `.svg` the
    /// memory timeline as well as a flame graph.
    pub fn suffix(self) -> &'static str {
        match self {
            Media::Svg => ".svg",
            Media::Json => ".json",
            Media::Text => ".txt",
            Media::Html => ".html",
            Media::Pprof => ".pb.gz",
            Media::Pstats => ".pstats",
        }
    }
}

/// Writes a capture (already made printable when [`Spec::escapes_controls`]).
type Writer = fn(&Capture, &mut dyn Write) -> Result<(), FormatError>;

/// Everything about one format.
#[derive(Debug)]
pub struct Spec {
    pub format: Format,
    /// On the command line (`--format NAME`) and in the Python package.
    pub name: &'static str,
    /// Other tools' names for the same format, accepted as `--format`
    /// (py-spy's `raw` is collapsed stacks) but not listed.
    pub aliases: &'static [&'static str],
    /// One line for `--help`.
    pub about: &'static str,
    /// File names ending so (any case) imply the format; the longest match
    /// wins (`x.speedscope.json` is speedscope, `x.json` the capture).
    pub suffixes: &'static [&'static str],
    /// What kind of file it is: a file named for a kind ([`Media::suffix`])
    /// may hold any format of that kind, one named for a format only that format.
    pub media: Media,
    /// The default output is `snakescope-PID` followed by this.
    pub default_suffix: &'static str,
    /// The sections it draws: a capture holding none of them has nothing to show.
    pub draws: &'static [Section],
    /// Bytes rather than text.
    pub binary: bool,
    /// `diff` writes its comparison in this format.
    pub compares: bool,
    /// Text, line-based and XML outputs never carry a control character as is.
    pub escapes_controls: bool,
    write: Writer,
}

const SAMPLES: &[Section] = &[Section::Samples];
/// The capture itself: everything.
const EVERYTHING: &[Section] = &Section::ALL;
/// What the reports show: everything measured (their figures are samples
/// and seconds, so not a memory view's byte stacks).
const MEASURED: &[Section] = &[
    Section::Samples,
    Section::Memory,
    Section::Exact,
    Section::Lines,
];
/// Stack formats whose counts may be bytes: samples, or a memory view.
const STACKS: &[Section] = &[Section::Samples, Section::MemoryStacks];
/// Profile formats with stacks or call graphs: samples, exact calls, or a
/// memory view.
const PROFILES: &[Section] = &[Section::Samples, Section::Exact, Section::MemoryStacks];

/// Every format, in the order help text lists them ([`Format`]'s order).
pub static FORMATS: &[Spec] = SPECS;

const SPECS: &[Spec] = &[
    Spec {
        format: Format::Flamegraph,
        media: Media::Svg,
        name: "flamegraph",
        aliases: &[],
        about: "Interactive SVG flame graph.",
        suffixes: &[".svg"],
        default_suffix: ".svg",
        draws: STACKS,
        binary: false,
        compares: false,
        escapes_controls: true,
        write: flamegraph::write,
    },
    Spec {
        format: Format::Speedscope,
        media: Media::Json,
        name: "speedscope",
        aliases: &[],
        about: "speedscope JSON (https://www.speedscope.app).",
        suffixes: &[".speedscope.json"],
        default_suffix: ".speedscope.json",
        draws: PROFILES,
        binary: false,
        compares: false,
        escapes_controls: false,
        write: |c, out| Ok(speedscope::write(c, out)?),
    },
    Spec {
        format: Format::Collapsed,
        media: Media::Text,
        name: "collapsed",
        aliases: &["raw"],
        about: "Collapsed stacks, one `frame;frame count` line per stack.",
        suffixes: &[".txt", ".collapsed", ".folded"],
        default_suffix: ".txt",
        draws: STACKS,
        binary: false,
        compares: false,
        escapes_controls: true,
        write: |c, out| Ok(collapsed::write(c, out)?),
    },
    Spec {
        format: Format::Json,
        media: Media::Json,
        name: "json",
        aliases: &[],
        about: "The snakescope capture itself (docs/capture-format.md).",
        suffixes: &[".json"],
        default_suffix: ".json",
        draws: EVERYTHING,
        binary: false,
        compares: true,
        escapes_controls: false,
        write: |c, out| Ok(json::write(c, out)?),
    },
    Spec {
        format: Format::Text,
        media: Media::Text,
        name: "text",
        aliases: &[],
        about: "A text report.",
        suffixes: &[],
        default_suffix: ".txt",
        draws: MEASURED,
        binary: false,
        compares: true,
        escapes_controls: true,
        write: |c, out| {
            text::write_report(c, out, false)?;
            Ok(memory::write_text(c, out, 15)?)
        },
    },
    Spec {
        format: Format::Html,
        media: Media::Html,
        name: "html",
        aliases: &[],
        about: "One self-contained HTML report: flame graph, tables, annotated source.",
        suffixes: &[".html", ".htm"],
        default_suffix: ".html",
        draws: MEASURED,
        binary: false,
        compares: false,
        escapes_controls: true,
        write: |c, out| Ok(html::write(c, out)?),
    },
    Spec {
        format: Format::Pprof,
        media: Media::Pprof,
        name: "pprof",
        aliases: &[],
        about: "pprof gzipped protobuf (go tool pprof, Pyroscope, Parca, Grafana).",
        suffixes: &[".pb.gz", ".pprof"],
        default_suffix: ".pb.gz",
        draws: PROFILES,
        binary: true,
        compares: false,
        escapes_controls: false,
        write: |c, out| Ok(pprof::write(c, out)?),
    },
    Spec {
        format: Format::Chrome,
        media: Media::Json,
        name: "chrome",
        aliases: &[],
        about: "Chrome trace events (Perfetto, chrome://tracing): a flame chart per thread.",
        suffixes: &[".trace.json"],
        default_suffix: ".trace.json",
        draws: SAMPLES,
        binary: false,
        compares: false,
        escapes_controls: false,
        write: |c, out| Ok(chrome::write(c, out)?),
    },
    Spec {
        format: Format::Timeline,
        media: Media::Svg,
        name: "timeline",
        aliases: &[],
        about: "The memory timeline as an SVG chart (captures of `run`).",
        suffixes: &[],
        default_suffix: ".timeline.svg",
        draws: &[Section::Memory],
        binary: false,
        compares: false,
        escapes_controls: true,
        write: |c, out| Ok(memory::write_timeline_svg(c, out)?),
    },
    Spec {
        format: Format::Pstats,
        media: Media::Pstats,
        name: "pstats",
        aliases: &[],
        about: "cProfile's statistics, for pstats and snakeviz (`run --exact`).",
        suffixes: &[".pstats"],
        default_suffix: ".pstats",
        draws: &[Section::Exact],
        binary: true,
        compares: false,
        escapes_controls: false,
        write: |c, out| Ok(pstats::write(c, out)?),
    },
];

// Each entry sits at its variant's position, so `spec` is an index.
const _: () = {
    let mut i = 0;
    while i < SPECS.len() {
        assert!(
            SPECS[i].format as usize == i,
            "FORMATS out of Format's order"
        );
        i += 1;
    }
};

impl Format {
    /// How many formats there are.
    pub const COUNT: usize = SPECS.len();

    /// Every format, in the order help text lists them.
    pub const ALL: [Format; Format::COUNT] = {
        let mut all = [Format::Json; Format::COUNT];
        let mut i = 0;
        while i < Format::COUNT {
            all[i] = SPECS[i].format;
            i += 1;
        }
        all
    };

    /// Its entry in [`FORMATS`].
    pub fn spec(self) -> &'static Spec {
        &FORMATS[self as usize]
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The format called `name` (as [`Format::name`] spells it).
    pub fn from_name(name: &str) -> Option<Format> {
        FORMATS
            .iter()
            .find(|s| s.name == name || s.aliases.contains(&name))
            .map(|s| s.format)
    }

    /// The format an output file's name implies (see [`Spec::suffixes`]).
    pub fn from_path(path: &Path) -> Option<Format> {
        implied(path).map(|(_, format)| format)
    }

    /// Whether a file named `path` may hold this format: when the name
    /// implies another format, `Err` with that format, unless the name only
    /// says the kind of file and this format is of that kind (see
    /// [`Media::suffix`]). So text is never written into `x.pstats`, nor a
    /// capture into `x.speedscope.json`, but a text report may go to `x.txt`.
    pub fn fits_path(self, path: &Path) -> Result<(), Format> {
        let Some((suffix, implied)) = implied(path) else {
            return Ok(());
        };
        let media = implied.spec().media;
        if implied == self || (suffix == media.suffix() && self.spec().media == media) {
            Ok(())
        } else {
            Err(implied)
        }
    }

    /// `path` renamed for this format: the ending that implies another
    /// format replaced by this one's default (`x.pstats` → `x.txt`).
    pub fn renamed(self, path: &Path) -> std::path::PathBuf {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let keep = implied(path).map_or(name.len(), |(suffix, _)| name.len() - suffix.len());
        let stem = name.get(..keep).unwrap_or(&name);
        path.with_file_name(format!("{stem}{}", self.spec().default_suffix))
    }

    /// The file written when no output is named: `snakescope-PID.svg`, …
    /// (`pid` is the process profiled, or a placeholder).
    pub fn default_file_name(self, pid: impl std::fmt::Display) -> String {
        format!("{DEFAULT_FILE_STEM}-{pid}{}", self.spec().default_suffix)
    }

    /// Whether it can draw something of what is `held` ([`Section::of`] a
    /// capture, or what a command records); when not, the section it needs.
    pub fn can_draw(self, held: &[Section]) -> Result<(), Section> {
        let draws = self.spec().draws;
        if draws.iter().any(|s| held.contains(s)) {
            Ok(())
        } else {
            Err(draws[0])
        }
    }

    /// The hint when it cannot draw what is held for want of `needs`.
    pub fn needs_hint(self, needs: Section) -> String {
        format!(
            "`{self}` draws {}, which {} records",
            needs.noun(),
            needs.recorded_by()
        )
    }

    /// The file names that imply a format, as hints list them.
    pub fn suffixes_shown() -> String {
        let shown: Vec<String> = FORMATS
            .iter()
            .filter_map(|s| {
                let first = s.suffixes.first()?;
                // `.txt (collapsed)`: named when the ending does not say it.
                Some(match s.suffixes.len() > 1 && !first.contains(s.name) {
                    false => (*first).to_owned(),
                    true => format!("{first} ({})", s.name),
                })
            })
            .collect();
        shown.join(", ")
    }

    /// Every format's name, as hints list them.
    pub fn names_shown() -> String {
        let names: Vec<&str> = FORMATS.iter().map(|s| s.name).collect();
        names.join(", ")
    }

    pub(crate) fn writer(self) -> Writer {
        self.spec().write
    }
}

/// The longest of the formats' endings that `path`'s name has (any case),
/// and its format.
fn implied(path: &Path) -> Option<(&'static str, Format)> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    FORMATS
        .iter()
        .flat_map(|s| s.suffixes.iter().map(move |suffix| (*suffix, s.format)))
        .filter(|(suffix, _)| name.len() > suffix.len() && name.ends_with(*suffix))
        .max_by_key(|(suffix, _)| suffix.len())
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests;
