//! The memory sections of the text report: totals, the top sites by bytes
//! allocated, alive at the peak and leaked, memory per line, labels and the
//! heap censuses.

use super::{human, is_import_frame, is_program_frame, lines, LineMemory, MemoryMetric};
use snakescope_model::{Capture, Memory, MemorySite};
use std::collections::HashMap;
use std::io::{self, Write};

/// The innermost program frame of a site and the frames below it, as
/// `function (file:line) <- caller ...` (at most `depth` frames).
fn site_label(capture: &Capture, site: &MemorySite, depth: usize) -> String {
    let mut parts = Vec::new();
    if site.source == "native" {
        parts.push("[native]".to_owned());
    }
    for &i in site.frames.iter().rev() {
        let f = &capture.frames[i];
        parts.push(format!(
            "{} ({}:{})",
            f.display_name(),
            short_file(&f.file),
            f.line
        ));
        if parts.len() >= depth {
            break;
        }
    }
    if parts.is_empty() || (parts.len() == 1 && site.source == "native") {
        parts.push("<no Python frame>".to_owned());
    }
    parts.join(" <- ")
}

fn short_file(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// The memory sections of the text report.
pub fn write_text(capture: &Capture, out: &mut dyn Write, top: usize) -> io::Result<()> {
    let Some(m) = &capture.memory else {
        return Ok(());
    };
    write_totals(m, out)?;
    write_sites(
        capture,
        m,
        out,
        top,
        "Top allocation sites (bytes allocated)",
        MemoryMetric::Allocated,
        &|_| true,
    )?;
    write_sites(
        capture,
        m,
        out,
        top,
        "Alive at the peak",
        MemoryMetric::Peak,
        &|_| true,
    )?;
    write_leaks(capture, m, out, top)?;
    write_lines(capture, m, out, top)?;
    write_labels(m, out)?;
    write_census(m, out, top)
}

/// How memory was recorded, and the totals.
fn write_totals(m: &Memory, out: &mut dyn Write) -> io::Result<()> {
    let allocated: u64 = m.sites.iter().map(|s| s.allocated_bytes).sum();
    let freed: u64 = m.sites.iter().map(|s| s.freed_bytes).sum();
    writeln!(out)?;
    let how = if m.mode == "exact" {
        "every allocation".to_owned()
    } else {
        format!(
            "sampled every {} on average; figures are estimates",
            human(m.sample_interval_bytes as f64)
        )
    };
    writeln!(out, "Memory ({how})")?;
    writeln!(
        out,
        "  peak {} at {:.2} s; allocated {}, freed {}, alive at the end {}",
        human(m.peak_bytes as f64),
        m.peak_at_s,
        human(allocated as f64),
        human(freed as f64),
        human(m.end_bytes as f64)
    )
}

/// A section of the `top` sites by `metric` among those `filter` keeps.
fn write_sites(
    capture: &Capture,
    m: &Memory,
    out: &mut dyn Write,
    top: usize,
    title: &str,
    metric: MemoryMetric,
    filter: &dyn Fn(&MemorySite) -> bool,
) -> io::Result<()> {
    let mut sites: Vec<&MemorySite> = m
        .sites
        .iter()
        .filter(|s| metric.of(s) > 0 && filter(s))
        .collect();
    sites.sort_by_key(|s| std::cmp::Reverse(metric.of(s)));
    writeln!(out)?;
    writeln!(out, "{title}")?;
    if sites.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for s in sites.into_iter().take(top) {
        writeln!(
            out,
            "  {:>10}  {:>9} allocs  {}",
            human(metric.of(s) as f64),
            s.allocations,
            site_label(capture, s, 3)
        )?;
    }
    Ok(())
}

/// Leaks: what the program's own code allocated and never freed, and no
/// module global reaches at exit (what globals hold is listed after);
/// interpreter and import machinery excluded. The view hides sites under
/// 0.1 % of the peak (noise), and says how many it hid: the capture keeps
/// every site.
fn write_leaks(capture: &Capture, m: &Memory, out: &mut dyn Write, top: usize) -> io::Result<()> {
    let floor = (m.peak_bytes / 1000).max(1);
    let leaked = |s: &MemorySite| MemoryMetric::Leaked.of(s);
    let program_leak = |s: &MemorySite| {
        leaked(s) > 0
            && s.frames
                .iter()
                .any(|&i| is_program_frame(&capture.frames[i]))
            && !s
                .frames
                .iter()
                .any(|&i| is_import_frame(&capture.frames[i]))
    };
    write_sites(
        capture,
        m,
        out,
        top,
        "Leaked (alive at the end, allocated by the program), reached by no module global",
        MemoryMetric::Leaked,
        &|s| leaked(s) >= floor && program_leak(s),
    )?;
    let small: Vec<&MemorySite> = m
        .sites
        .iter()
        .filter(|s| leaked(s) < floor && program_leak(s))
        .collect();
    if !small.is_empty() {
        writeln!(
            out,
            "  (not shown: {} more sites, {} in all, each under {} (0.1 % of the peak); \
             the capture holds them)",
            small.len(),
            human(small.iter().map(|s| leaked(s)).sum::<u64>() as f64),
            human(floor as f64)
        )?;
    }
    write_globals(m, out, top)
}

/// What module globals hold at exit (not leaked), most bytes first.
fn write_globals(m: &Memory, out: &mut dyn Write, top: usize) -> io::Result<()> {
    if m.globals.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Held by module globals at the end (not leaked)")?;
    for g in m.globals.iter().take(top) {
        let about = if g.estimated { "~" } else { " " };
        writeln!(
            out,
            "  {about}{:>10}  {about}{:>9} objects  {}.{}",
            human(g.bytes as f64),
            g.objects,
            g.module,
            g.name
        )?;
    }
    if m.globals.iter().take(top).any(|g| g.estimated) {
        writeln!(
            out,
            "  (~: estimated; a container of more than 65,536 references was sampled)"
        )?;
    }
    Ok(())
}

/// The `top` lines by bytes allocated, with their source text.
fn write_lines(capture: &Capture, m: &Memory, out: &mut dyn Write, top: usize) -> io::Result<()> {
    let mut by_line: Vec<((String, u32), LineMemory)> = lines(capture, m).into_iter().collect();
    by_line.sort_by(|a, b| {
        b.1.allocated
            .cmp(&a.1.allocated)
            .then_with(|| a.0.cmp(&b.0))
    });
    writeln!(out)?;
    writeln!(out, "Memory per line (inclusive of callees)")?;
    writeln!(
        out,
        "  {:>10} {:>10} {:>10} {:>7} {:>11}  line",
        "allocated", "freed", "net", "peak%", "occurrences"
    )?;
    let mut sources: HashMap<String, Vec<String>> = HashMap::new();
    for ((file, line), l) in by_line.into_iter().take(top) {
        let src = sources
            .entry(file.clone())
            .or_insert_with(|| crate::printable::source_lines(&file));
        let text = (line as usize)
            .checked_sub(1)
            .and_then(|i| src.get(i))
            .map_or("", |s| s.trim());
        writeln!(
            out,
            "  {:>10} {:>10} {:>10} {:>6.1}% {:>11}  {}:{}  {}",
            human(l.allocated as f64),
            human(l.freed as f64),
            human(l.end as f64),
            if m.peak_bytes > 0 {
                100.0 * l.peak as f64 / m.peak_bytes as f64
            } else {
                0.0
            },
            l.allocations,
            short_file(&file),
            line,
            text
        )?;
    }
    Ok(())
}

/// The labelled spans, when there are any.
fn write_labels(m: &Memory, out: &mut dyn Write) -> io::Result<()> {
    if !m.labels.is_empty() {
        writeln!(out)?;
        writeln!(out, "Labels")?;
        for l in &m.labels {
            writeln!(out, "  {:>8.2}–{:<8.2} s  {}", l.start_s, l.end_s, l.name)?;
        }
    }
    Ok(())
}

/// Each heap census: the `top` types by bytes.
fn write_census(m: &Memory, out: &mut dyn Write, top: usize) -> io::Result<()> {
    for c in &m.census {
        writeln!(out)?;
        let when = match (c.when.as_str(), c.heap_bytes) {
            ("peak", Some(heap)) => format!(
                "near the peak: at {:.2} s, tracked heap {} of the {} peak",
                c.t,
                human(heap as f64),
                human(m.peak_bytes as f64)
            ),
            (when, _) => when.to_owned(),
        };
        writeln!(
            out,
            "Live objects by type ({when}, the garbage collector's view)"
        )?;
        match (c.estimated, c.sampled_one_in) {
            (true, Some(k)) => writeln!(
                out,
                "  (estimated: one in {k} of the untracked objects counted, each standing for {k})"
            )?,
            (true, None) => writeln!(
                out,
                "  (estimated: the items of containers over 100,000 were sampled, every k-th standing for k)"
            )?,
            (false, _) => {}
        }
        for r in c.types.iter().take(top) {
            writeln!(
                out,
                "  {:>10} {:>9}  {}",
                human(r.bytes as f64),
                r.count,
                r.type_name
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snakescope_model::{Census, MemoryGlobal};

    fn census_text(sampled_one_in: Option<u64>) -> String {
        let census = Census {
            when: "exit".into(),
            t: 1.0,
            heap_bytes: None,
            types: Vec::new(),
            estimated: true,
            visited: Some(10),
            sampled_one_in,
        };
        let m = Memory {
            census: vec![census],
            ..Memory::default()
        };
        let mut out = Vec::new();
        write_census(&m, &mut out, 5).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_estimate_says_how_it_was_sampled() {
        assert!(census_text(Some(16)).contains("one in 16 of the untracked objects counted"));
        assert!(census_text(None).contains("every k-th standing for k"));
    }

    fn globals_text(estimated: bool) -> String {
        let g = MemoryGlobal {
            module: "__main__".into(),
            name: "data".into(),
            objects: 1_000_000,
            bytes: 32 << 20,
            estimated,
        };
        let m = Memory {
            globals: vec![g],
            ..Memory::default()
        };
        let mut out = Vec::new();
        write_globals(&m, &mut out, 5).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_estimated_global_is_marked_and_explained() {
        let sampled = globals_text(true);
        assert!(
            sampled.contains("~") && sampled.contains("(~: estimated;"),
            "{sampled}"
        );
        let exact = globals_text(false);
        assert!(
            !exact.contains('~') && exact.contains("__main__.data"),
            "{exact}"
        );
    }
}
