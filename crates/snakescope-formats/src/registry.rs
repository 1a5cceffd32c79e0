//! Every output format, declared once: its name on the command line, the
//! file names that imply it, the name of the file written when none is
//! given, the parts of a capture it draws, and its writer. `record`, `run`,
//! `report`, `diff` and the Python package (`_native.formats()`) all read
//! this table; none of them names a format or an extension of its own.
//!
//! Adding a format: a writer module, one [`Format`] variant and one entry in
//! [`FORMATS`] (in the variant's position: a compile-time check holds them
//! in step).

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
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::Samples,
        Section::Memory,
        Section::Exact,
        Section::Lines,
    ];

    /// The name the Python package sees.
    pub fn name(self) -> &'static str {
        match self {
            Section::Samples => "samples",
            Section::Memory => "memory",
            Section::Exact => "exact",
            Section::Lines => "lines",
        }
    }

    /// What it is, in a sentence ("has no …").
    pub fn noun(self) -> &'static str {
        match self {
            Section::Samples => "sampled stacks",
            Section::Memory => "memory data",
            Section::Exact => "exact call counts",
            Section::Lines => "line timings",
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
        }
    }

    /// The sections `capture` holds: its samples (even when there are none,
    /// unless it is an exact capture), and its memory, exact statistics and
    /// line timings when recorded.
    pub fn of(capture: &Capture) -> Vec<Section> {
        let mut held = Vec::new();
        if capture.total_samples() > 0 || capture.exact.is_none() {
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
/// What the capture itself and the reports show: everything.
const EVERYTHING: &[Section] = &Section::ALL;
/// Profile formats with stacks or call graphs: samples, or exact calls.
const SAMPLES_OR_EXACT: &[Section] = &[Section::Samples, Section::Exact];

/// Every format, in the order help text lists them ([`Format`]'s order).
pub static FORMATS: &[Spec] = SPECS;

const SPECS: &[Spec] = &[
    Spec {
        format: Format::Flamegraph,
        name: "flamegraph",
        aliases: &[],
        about: "Interactive SVG flame graph.",
        suffixes: &[".svg"],
        default_suffix: ".svg",
        draws: SAMPLES,
        binary: false,
        compares: false,
        escapes_controls: true,
        write: flamegraph::write,
    },
    Spec {
        format: Format::Speedscope,
        name: "speedscope",
        aliases: &[],
        about: "speedscope JSON (https://www.speedscope.app).",
        suffixes: &[".speedscope.json"],
        default_suffix: ".speedscope.json",
        draws: SAMPLES_OR_EXACT,
        binary: false,
        compares: false,
        escapes_controls: false,
        write: |c, out| Ok(speedscope::write(c, out)?),
    },
    Spec {
        format: Format::Collapsed,
        name: "collapsed",
        aliases: &["raw"],
        about: "Collapsed stacks, one `frame;frame count` line per stack.",
        suffixes: &[".txt", ".collapsed", ".folded"],
        default_suffix: ".txt",
        draws: SAMPLES,
        binary: false,
        compares: false,
        escapes_controls: true,
        write: |c, out| Ok(collapsed::write(c, out)?),
    },
    Spec {
        format: Format::Json,
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
        name: "text",
        aliases: &[],
        about: "A text report.",
        suffixes: &[],
        default_suffix: ".txt",
        draws: EVERYTHING,
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
        name: "html",
        aliases: &[],
        about: "One self-contained HTML report: flame graph, tables, annotated source.",
        suffixes: &[".html", ".htm"],
        default_suffix: ".html",
        draws: EVERYTHING,
        binary: false,
        compares: false,
        escapes_controls: true,
        write: |c, out| Ok(html::write(c, out)?),
    },
    Spec {
        format: Format::Pprof,
        name: "pprof",
        aliases: &[],
        about: "pprof gzipped protobuf (go tool pprof, Pyroscope, Parca, Grafana).",
        suffixes: &[".pb.gz", ".pprof"],
        default_suffix: ".pb.gz",
        draws: SAMPLES_OR_EXACT,
        binary: true,
        compares: false,
        escapes_controls: false,
        write: |c, out| Ok(pprof::write(c, out)?),
    },
    Spec {
        format: Format::Chrome,
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
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        FORMATS
            .iter()
            .flat_map(|s| s.suffixes.iter().map(move |suffix| (suffix, s.format)))
            .filter(|(suffix, _)| name.len() > suffix.len() && name.ends_with(*suffix))
            .max_by_key(|(suffix, _)| suffix.len())
            .map(|(_, format)| format)
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

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry: name → entry → its file names → the same entry, and the
    /// default file name back to the entry too, except for the two formats
    /// no file name implies (`.txt` is collapsed stacks, `.svg` a flame graph).
    #[test]
    fn every_entry_round_trips() {
        for spec in FORMATS {
            let format = Format::from_name(spec.name).expect(spec.name);
            assert_eq!(format.spec().name, spec.name);
            assert_eq!(spec.format, format);
            for suffix in spec.suffixes {
                let upper = format!("Profile{}", suffix.to_ascii_uppercase());
                for file in [format!("out/profile{suffix}"), upper] {
                    assert_eq!(Format::from_path(Path::new(&file)), Some(format), "{file}");
                }
            }
            let default = format.default_file_name(42);
            assert!(default.starts_with("snakescope-42."), "{default}");
            let implied = Format::from_path(Path::new(&default));
            match format {
                Format::Text | Format::Timeline => {
                    assert!(spec.suffixes.is_empty());
                    assert_ne!(implied, Some(format), "{default}");
                }
                _ => {
                    assert_eq!(implied, Some(format), "{default}");
                    assert_eq!(spec.suffixes[0], spec.default_suffix);
                }
            }
        }
        assert_eq!(Format::from_name("svg"), None);
    }

    #[test]
    fn py_spys_raw_is_collapsed_stacks() {
        assert_eq!(Format::from_name("raw"), Some(Format::Collapsed));
        assert_eq!(Format::Collapsed.name(), "collapsed");
    }

    #[test]
    fn every_variant_has_an_entry() {
        for format in Format::ALL {
            // A new variant must be added here and to FORMATS.
            let listed = match format {
                Format::Flamegraph
                | Format::Speedscope
                | Format::Collapsed
                | Format::Json
                | Format::Text
                | Format::Html
                | Format::Pprof
                | Format::Chrome
                | Format::Timeline
                | Format::Pstats => format.spec().format == format,
            };
            assert!(listed, "{format:?}");
        }
        let mut names: Vec<&str> = FORMATS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Format::COUNT, "names are unique");
    }

    #[test]
    fn paths_imply_formats() {
        let cases = [
            ("out/profile.svg", Some(Format::Flamegraph)),
            ("p.speedscope.json", Some(Format::Speedscope)),
            ("P.SPEEDSCOPE.JSON", Some(Format::Speedscope)),
            ("capture.json", Some(Format::Json)),
            ("stacks.txt", Some(Format::Collapsed)),
            ("stacks.collapsed", Some(Format::Collapsed)),
            ("stacks.folded", Some(Format::Collapsed)),
            ("cpu.pb.gz", Some(Format::Pprof)),
            ("cpu.pprof", Some(Format::Pprof)),
            ("run.trace.json", Some(Format::Chrome)),
            ("mem.timeline.svg", Some(Format::Flamegraph)),
            ("julia.pstats", Some(Format::Pstats)),
            ("profile", None),
            (".svg", None),
            ("archive.gz", None),
            ("profile.html", Some(Format::Html)),
            ("Report.HTM", Some(Format::Html)),
        ];
        for (path, want) in cases {
            assert_eq!(Format::from_path(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn what_each_format_draws() {
        let sampled = [Section::Samples];
        let run = [Section::Samples, Section::Memory];
        assert_eq!(Format::Flamegraph.can_draw(&sampled), Ok(()));
        assert_eq!(Format::Timeline.can_draw(&sampled), Err(Section::Memory));
        assert_eq!(Format::Timeline.can_draw(&run), Ok(()));
        assert_eq!(Format::Pstats.can_draw(&run), Err(Section::Exact));
        assert_eq!(Format::Pstats.can_draw(&[Section::Exact]), Ok(()));
        assert_eq!(
            Format::Flamegraph.can_draw(&[Section::Exact]),
            Err(Section::Samples)
        );
        let diffable: Vec<&str> = FORMATS
            .iter()
            .filter(|s| s.compares)
            .map(|s| s.name)
            .collect();
        assert_eq!(diffable, ["json", "text"]);
    }
}
