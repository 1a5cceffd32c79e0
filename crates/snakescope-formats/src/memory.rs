//! Memory outputs: the text report (top allocation sites, what was alive at
//! the peak, what leaked, memory per line), a capture whose stacks are
//! weighted by bytes (so every stack format draws memory), and the
//! timeline chart (SVG, `mprof plot`'s picture).

use snakescope_model::{Capture, Frame, Memory, MemorySite, Meta, StackRecord, ThreadRecord};
use std::collections::HashMap;
use std::io::{self, Write};

/// Largest source file whose lines the text report quotes.
const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// The lines of a source file named in the capture, control characters
/// escaped; none unless it is a regular file of a sane size (a capture may
/// name `/dev/zero` or a FIFO).
fn source_lines(file: &str) -> Vec<String> {
    let readable =
        std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.len() <= MAX_SOURCE_BYTES);
    if !readable {
        return Vec::new();
    }
    std::fs::read(file)
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(|l| crate::printable::escape_controls(l).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Which bytes a memory view weighs stacks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryMetric {
    /// Everything allocated, freed or not.
    Allocated,
    /// What was alive at the peak.
    Peak,
    /// What was still alive when recording stopped.
    Leaked,
}

impl MemoryMetric {
    pub fn from_name(name: &str) -> Option<MemoryMetric> {
        match name {
            "allocated" | "alloc" => Some(MemoryMetric::Allocated),
            "peak" => Some(MemoryMetric::Peak),
            "leaked" | "leaks" | "end" => Some(MemoryMetric::Leaked),
            _ => None,
        }
    }

    fn of(&self, site: &MemorySite) -> u64 {
        match self {
            MemoryMetric::Allocated => site.allocated_bytes,
            MemoryMetric::Peak => site.peak_bytes,
            MemoryMetric::Leaked => site.end_bytes,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            MemoryMetric::Allocated => "allocated",
            MemoryMetric::Peak => "peak",
            MemoryMetric::Leaked => "leaked",
        }
    }
}

/// The capture's memory as a capture of stacks weighted by bytes (one
/// "sample" per byte), so the flame graph, speedscope, collapsed and pprof
/// writers draw it; `None` without memory data.
pub fn memory_view(capture: &Capture, metric: MemoryMetric) -> Option<Capture> {
    let memory = capture.memory.as_ref()?;
    let mut frames = capture.frames.clone();
    let native = frames.len();
    frames.push(Frame {
        function: "[native allocation]".into(),
        qualname: None,
        file: "<native>".into(),
        line: 0,
    });
    let mut stacks: HashMap<Vec<usize>, u64> = HashMap::new();
    for site in &memory.sites {
        let bytes = metric.of(site);
        if bytes == 0 {
            continue;
        }
        let mut stack = site.frames.clone();
        if site.source == "native" {
            stack.push(native);
        }
        *stacks.entry(stack).or_default() += bytes;
    }
    let total: u64 = stacks.values().sum();
    let mut records: Vec<StackRecord> = stacks
        .into_iter()
        .map(|(frames, count)| StackRecord {
            thread: 0,
            frames,
            idle: false,
            gil: false,
            count,
        })
        .collect();
    records.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.frames.cmp(&b.frames)));
    Some(Capture {
        format: capture.format.clone(),
        version: capture.version,
        meta: Meta {
            mode: format!("memory:{}", metric.name()),
            requested_rate_hz: 0.0,
            ticks: total,
            ..capture.meta.clone()
        },
        threads: vec![ThreadRecord {
            tid: 0,
            name: Some(format!("memory ({} bytes)", metric.name())),
            samples: total,
            idle_samples: 0,
            gil_samples: 0,
        }],
        frames,
        stacks: records,
        memory: None,
    })
}

/// Whether a frame belongs to the program rather than the standard library,
/// installed packages, import machinery or snakescope itself.
pub fn is_program_frame(frame: &Frame) -> bool {
    let f = &frame.file;
    !(f.starts_with('<')
        || f.contains("/lib/python3")
        || f.contains("site-packages")
        || f.contains("dist-packages")
        || f.contains("/snakescope/"))
}

/// A frame of the import machinery: what an import allocates (code objects,
/// module dictionaries) lives as long as the module, by design.
pub fn is_import_frame(frame: &Frame) -> bool {
    frame.file.starts_with("<frozen importlib")
        || frame.file.ends_with("importlib/_bootstrap.py")
        || frame.file.ends_with("importlib/_bootstrap_external.py")
}

pub fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut i = 0;
    while v.abs() >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", units[i])
    } else {
        format!("{v:.1} {}", units[i])
    }
}

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

/// Per (file, line), inclusive: every line on a site's stack counts the
/// site's bytes once.
#[derive(Default, Clone)]
pub struct LineMemory {
    pub allocated: u64,
    pub freed: u64,
    pub peak: u64,
    pub end: u64,
    pub allocations: u64,
}

/// Memory per source line of the program, inclusive of what the line's
/// callees allocated (memory_profiler's "Increment" includes callees too).
pub fn lines(capture: &Capture, memory: &Memory) -> HashMap<(String, u32), LineMemory> {
    let mut out: HashMap<(String, u32), LineMemory> = HashMap::new();
    for site in &memory.sites {
        let mut seen = std::collections::HashSet::new();
        for &i in &site.frames {
            let f = &capture.frames[i];
            if f.line == 0 || !is_program_frame(f) || !seen.insert((f.file.as_str(), f.line)) {
                continue;
            }
            let e = out.entry((f.file.clone(), f.line)).or_default();
            e.allocated += site.allocated_bytes;
            e.freed += site.freed_bytes;
            e.peak += site.peak_bytes;
            e.end += site.end_bytes;
            e.allocations += site.allocations;
        }
    }
    out
}

/// The memory sections of the text report.
pub fn write_text(capture: &Capture, out: &mut dyn Write, top: usize) -> io::Result<()> {
    let Some(m) = &capture.memory else {
        return Ok(());
    };
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
    )?;
    let section = |out: &mut dyn Write,
                   title: &str,
                   metric: MemoryMetric,
                   filter: &dyn Fn(&MemorySite) -> bool|
     -> io::Result<()> {
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
    };
    section(
        out,
        "Top allocation sites (bytes allocated)",
        MemoryMetric::Allocated,
        &|_| true,
    )?;
    section(out, "Alive at the peak", MemoryMetric::Peak, &|_| true)?;
    // Leaks: what the program's own code allocated and never freed;
    // interpreter and import machinery excluded. The view hides sites under
    // 0.1 % of the peak (noise), and says how many it hid: the capture keeps
    // every site.
    let floor = (m.peak_bytes / 1000).max(1);
    let program_leak = |s: &MemorySite| {
        s.end_bytes > 0
            && s.frames
                .iter()
                .any(|&i| is_program_frame(&capture.frames[i]))
            && !s
                .frames
                .iter()
                .any(|&i| is_import_frame(&capture.frames[i]))
    };
    section(
        out,
        "Leaked (alive at the end, allocated by the program)",
        MemoryMetric::Leaked,
        &|s| s.end_bytes >= floor && program_leak(s),
    )?;
    let small: Vec<&MemorySite> = m
        .sites
        .iter()
        .filter(|s| s.end_bytes < floor && program_leak(s))
        .collect();
    if !small.is_empty() {
        writeln!(
            out,
            "  (not shown: {} more sites, {} in all, each under {} (0.1 % of the peak); \
             the capture holds them)",
            small.len(),
            human(small.iter().map(|s| s.end_bytes).sum::<u64>() as f64),
            human(floor as f64)
        )?;
    }
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
            .or_insert_with(|| source_lines(&file));
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
    if !m.labels.is_empty() {
        writeln!(out)?;
        writeln!(out, "Labels")?;
        for l in &m.labels {
            writeln!(out, "  {:>8.2}–{:<8.2} s  {}", l.start_s, l.end_s, l.name)?;
        }
    }
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

/// The timeline as an SVG chart: tracked heap and RSS over time, labels as
/// shaded spans.
pub fn write_timeline_svg(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let (w, h, left, bottom, top, right) = (900.0, 360.0, 70.0, 40.0, 30.0, 20.0);
    let empty = Memory::default();
    let m = capture.memory.as_ref().unwrap_or(&empty);
    let t_max = m
        .timeline
        .iter()
        .map(|p| p.t)
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let y_max = m
        .timeline
        .iter()
        .map(|p| p.rss.max(p.heap))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |t: f64| left + (w - left - right) * t / t_max;
    let y = |v: f64| h - bottom - (h - bottom - top) * v / y_max;
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
    writeln!(
        out,
        r#"<text x="{left}" y="18" font-size="14">Memory over time: tracked heap (blue) and RSS (grey)</text>"#
    )?;
    for (i, l) in m.labels.iter().enumerate() {
        let shade = if i % 2 == 0 { "#fde9c8" } else { "#e3f1dc" };
        writeln!(
            out,
            r#"<rect x="{:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="{shade}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            x(l.start_s),
            (x(l.end_s) - x(l.start_s)).max(1.0),
            h - bottom - top,
            x(l.start_s) + 3.0,
            top + 14.0,
            escape(&l.name)
        )?;
    }
    let path = |f: &dyn Fn(&snakescope_model::MemoryPoint) -> u64| -> String {
        m.timeline
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.t), y(f(p) as f64)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    writeln!(
        out,
        r##"<polyline fill="none" stroke="#999" stroke-width="1.5" points="{}"/>"##,
        path(&|p| p.rss)
    )?;
    writeln!(
        out,
        r##"<polyline fill="none" stroke="#1f5fbf" stroke-width="2" points="{}"/>"##,
        path(&|p| p.heap)
    )?;
    writeln!(
        out,
        r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
        h - bottom,
        w - right,
        h - bottom
    )?;
    writeln!(
        out,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/>"#,
        h - bottom
    )?;
    for i in 0..=4 {
        let v = y_max * i as f64 / 4.0;
        writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 5.0,
            y(v) + 4.0,
            human(v)
        )?;
        let t = t_max * i as f64 / 4.0;
        writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:.2} s</text>"#,
            x(t),
            h - bottom + 16.0,
            t
        )?;
    }
    writeln!(out, "</svg>")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
