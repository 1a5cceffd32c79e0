//! The differential flame graph: one profile's stacks, each box coloured by
//! how its self time changed (inferno: grown red, shrunk blue).

use super::analysis::side;
use super::pairing::Pairing;
use super::scripts::{apply_pairing, script_match};
use crate::collapsed::frame_text;
use crate::FormatError;
use inferno::flamegraph::{self as inferno_flamegraph, Options};
use snakescope_model::{Capture, Frame, MAX_TOTAL};
use std::collections::BTreeMap;
use std::io::Write;

/// How the differential flame graph compares the two profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// By time: samples times each capture's period, so a box is red when
    /// its code took longer.
    Time,
    /// By share of each capture's samples (inferno's `--normalize`), so a box
    /// is red when its share grew.
    Share,
}

/// Which profile gives the differential flame graph its widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widths {
    /// The after profile: what runs now, coloured by how it changed (code that
    /// disappeared has no box).
    After,
    /// The before profile: what ran before, coloured by how it changed (code
    /// that is new has no box); the view for checking an optimisation.
    Before,
}

/// Writes a differential flame graph: one profile's stacks, each box
/// coloured by how its self time changed from before to after (red: grew,
/// blue: shrank, white: the same). Threads are merged by name (ids differ
/// between runs).
pub fn write_differential_flamegraph(
    before: &Capture,
    after: &Capture,
    scale: Scale,
    widths: Widths,
    out: &mut dyn Write,
) -> Result<(), FormatError> {
    let (Ok(b), Ok(a)) = (side(before, "before", 1), side(after, "after", 1)) else {
        return Err(FormatError::NoSamples("differential flamegraph"));
    };
    let matched = script_match(before, after);
    let renamed;
    let before = match &matched {
        Some(m) => {
            let stats = (
                snakescope_model::Stats::of(before),
                snakescope_model::Stats::of(after),
            );
            let pairing = Pairing::new(&m.before, &m.after, &stats.0, &stats.1);
            renamed = apply_pairing(before, &pairing);
            &renamed
        }
        None => before,
    };
    // The profile giving the widths keeps its sample counts; the other is
    // brought to its units.
    let (base, other, base_side, other_side) = match widths {
        Widths::After => (after, before, &a, &b),
        Widths::Before => (before, after, &b, &a),
    };
    let factor = match scale {
        Scale::Time => other_side.sample_period_s / base_side.sample_period_s,
        Scale::Share => base_side.samples as f64 / other_side.samples as f64,
    };
    let mut stacks: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for (stack, count) in folded(other) {
        stacks.entry(stack).or_default().0 += count as f64 * factor;
    }
    for (stack, count) in folded(base) {
        stacks.entry(stack).or_default().1 += count;
    }
    // inferno draws the second count and colours by second minus first;
    // with the before widths that difference is negated back to after
    // minus before.
    let lines: Vec<String> = stacks
        .iter()
        .map(|(s, (o, b))| format!("{s} {} {b}", o.round().min(MAX_TOTAL as f64) as u64))
        .collect();
    let mut options = Options::default();
    options.negate_differentials = widths == Widths::Before;
    options.title = format!("snakescope diff: {} -> {}", b.command, a.command);
    options.subtitle = Some(format!(
        "widths: {}; red: {} after than before, blue: {}",
        match widths {
            Widths::After => "after",
            Widths::Before => "before",
        },
        match scale {
            Scale::Time => "more self time",
            Scale::Share => "larger share of self time",
        },
        match scale {
            Scale::Time => "less",
            Scale::Share => "smaller",
        },
    ));
    options.count_name = "samples".to_owned();
    inferno_flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), out)?;
    Ok(())
}

/// Collapsed stacks rooted at the thread's name rather than its id, with
/// frames as `function (file)`: lines move when code is edited, so a frame
/// with its line would look new after any change above it.
fn folded(capture: &Capture) -> BTreeMap<String, u64> {
    let frames: Vec<String> = capture
        .frames
        .iter()
        .map(|f| {
            frame_text(&Frame {
                line: 0,
                ..f.clone()
            })
        })
        .collect();
    let mut stacks = BTreeMap::new();
    for stack in &capture.stacks {
        let thread = &capture.threads[stack.thread];
        let mut line = match &thread.name {
            Some(name) => format!("thread: {}", name.replace(';', ":")),
            None => "thread".to_owned(),
        };
        for &f in &stack.frames {
            line.push(';');
            line.push_str(&frames[f]);
        }
        *stacks.entry(line).or_insert(0) += stack.count;
    }
    stacks
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::*;

    fn svg(scale: Scale, widths: Widths) -> String {
        let mut out = Vec::new();
        write_differential_flamegraph(&before(), &after(), scale, widths, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The fill colour of the box whose title starts with `name`.
    fn fill<'a>(svg: &'a str, name: &str) -> &'a str {
        let at = svg
            .find(&format!("<title>{name}"))
            .unwrap_or_else(|| panic!("no box {name}"));
        let rest = &svg[at..];
        let fill = rest.find("fill=\"").unwrap() + 6;
        &rest[fill..fill + rest[fill..].find('"').unwrap()]
    }

    /// (red, green, blue) of an `rgb(r,g,b)` fill.
    fn rgb(fill: &str) -> (u32, u32, u32) {
        let v: Vec<u32> = fill
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .map(|c| c.trim().parse().unwrap())
            .collect();
        (v[0], v[1], v[2])
    }

    fn is_red(c: (u32, u32, u32)) -> bool {
        c.0 > c.2
    }

    fn is_blue(c: (u32, u32, u32)) -> bool {
        c.2 > c.0
    }

    fn is_white(c: (u32, u32, u32)) -> bool {
        c.0 == c.1 && c.1 == c.2
    }

    #[test]
    fn differential_flame_graph_colours_shrunk_blue_and_grown_red() {
        // By time, after's widths: lookup (0.6 s -> 0.05 s) blue, cache (new)
        // red, parse (0.3 s both) white.
        let g = svg(Scale::Time, Widths::After);
        assert!(g.trim_end().ends_with("</svg>"));
        assert!(is_blue(rgb(fill(&g, "lookup (/p/app.py)"))));
        assert!(is_red(rgb(fill(&g, "cache (/p/app.py)"))));
        assert!(is_white(rgb(fill(&g, "parse (/p/app.py)"))));
        // Threads are matched by name, not id.
        assert!(g.contains("thread: MainThread"));
        // By share parse grew (30% -> 60%): red.
        let g = svg(Scale::Share, Widths::After);
        assert!(is_red(rgb(fill(&g, "parse (/p/app.py)"))));
        assert!(is_blue(rgb(fill(&g, "lookup (/p/app.py)"))));
    }

    #[test]
    fn before_widths_keep_the_colours_and_show_what_went() {
        // Before's widths: lookup is 60% wide and blue; cache, new, has no box.
        let g = svg(Scale::Time, Widths::Before);
        assert!(is_blue(rgb(fill(&g, "lookup (/p/app.py)"))));
        assert!(is_white(rgb(fill(&g, "parse (/p/app.py)"))));
        assert!(!g.contains("<title>cache"));
        // 600 of 1000 samples: lookup's box is 60% as wide as the root.
        assert!(
            g.contains("<title>lookup (/p/app.py) (600 samples, 60.00%"),
            "{g}"
        );
    }
}
