//! The registry's table: every entry consistent, names and paths to formats.

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
fn a_name_for_one_format_holds_no_other() {
    let fits = |format: Format, path: &str| format.fits_path(Path::new(path));
    assert_eq!(fits(Format::Text, "x.pstats"), Err(Format::Pstats));
    assert_eq!(
        fits(Format::Json, "x.speedscope.json"),
        Err(Format::Speedscope)
    );
    assert_eq!(fits(Format::Flamegraph, "x.pb.gz"), Err(Format::Pprof));
    assert_eq!(fits(Format::Text, "x.html"), Err(Format::Html));
    assert_eq!(fits(Format::Html, "x.json"), Err(Format::Json));
    assert_eq!(fits(Format::Text, "report.txt"), Ok(()));
    assert_eq!(fits(Format::Timeline, "mem.svg"), Ok(()));
    assert_eq!(fits(Format::Speedscope, "x.json"), Ok(()));
    assert_eq!(fits(Format::Chrome, "X.JSON"), Ok(()));
    assert_eq!(fits(Format::Pstats, "x.pstats"), Ok(()));
    assert_eq!(fits(Format::Pstats, "x.out"), Ok(()), "no format implied");
    for spec in FORMATS {
        for suffix in spec.suffixes {
            let path = format!("p{suffix}");
            assert_eq!(fits(spec.format, &path), Ok(()), "{path}");
        }
    }
    let renamed = Format::Text.renamed(Path::new("out/X.PB.GZ"));
    assert_eq!(renamed, Path::new("out/X.txt"));
    assert_eq!(Format::Pprof.renamed(Path::new("p")), Path::new("p.pb.gz"));
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

/// Regression: `@profile` on a program too short to be sampled wrote a
/// capture whose flame graph failed without a hint; it holds line timings
/// only, so a flame graph is refused as for an exact capture.
#[test]
fn a_capture_of_line_timings_without_samples_holds_no_samples() {
    let mut capture = snakescope_model::CaptureBuilder::new().finish(Default::default());
    assert_eq!(Section::of(&capture), [Section::Samples]);
    capture.lines = Some(snakescope_model::LineTimings::default());
    assert_eq!(Section::of(&capture), [Section::Lines]);
    assert_eq!(
        Format::Flamegraph.can_draw(&Section::of(&capture)),
        Err(Section::Samples)
    );
}

#[test]
fn py_spys_raw_is_collapsed_stacks() {
    assert_eq!(Format::from_name("raw"), Some(Format::Collapsed));
    assert_eq!(Format::Collapsed.name(), "collapsed");
}
