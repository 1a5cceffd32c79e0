//! `snakescope timeit`: time small statements in separate worker processes,
//! summarise each robustly and compare them (see `docs/commands/timeit.md`).
//!
//! Every (statement, interpreter) pair is one benchmark. Its first worker
//! calibrates the loop count (timeit's autorange) unless `-n` gives it;
//! workers of all benchmarks take turns, round after round, so a slow
//! moment of the machine falls on every benchmark rather than on one.

mod report;
mod worker;

use crate::args::TimeitArgs;
use crate::UserError;
use snakescope_model::timing::Summary;
use std::path::PathBuf;

/// One statement on one interpreter, and what its workers measured.
pub struct Bench {
    pub stmt: String,
    pub python: String,
    pub version: String,
    pub number: u64,
    pub values: Vec<f64>,
}

pub fn run(args: &TimeitArgs) -> anyhow::Result<u8> {
    let pythons = interpreters(args);
    let setup = args.setup.join("\n");
    let mut benches: Vec<Bench> = pythons
        .iter()
        .flat_map(|python| {
            args.stmts.iter().map(move |stmt| Bench {
                stmt: stmt.clone(),
                python: python.clone(),
                version: String::new(),
                number: args.number.unwrap_or(0),
                values: Vec::new(),
            })
        })
        .collect();
    let dir = ResultDir::create()?;
    let mut index = 0;
    for _round in 0..args.processes {
        for bench in &mut benches {
            let job = worker::Job {
                python: &bench.python,
                stmt: &bench.stmt,
                setup: &setup,
                number: (bench.number > 0).then_some(bench.number),
                repeat: args.repeat,
                warmups: 1,
            };
            let measured = worker::run(&job, &dir.0, index)?;
            index += 1;
            bench.number = measured.number;
            bench.version = measured.version;
            bench.values.extend(measured.times);
        }
    }
    let summaries: Vec<Summary> = benches.iter().map(|b| Summary::of(&b.values)).collect();
    let result = report::Report::new(&benches, &summaries, args, busy_machine());
    if args.json {
        crate::to_stdout(|out| result.write_json(out))?;
    } else {
        crate::to_stdout(|out| result.write_text(out))?;
    }
    Ok(0)
}

/// `-p` as given, else `$SNAKESCOPE_PYTHON` (`python -m snakescope` sets
/// it), else the interpreter the wheel installed the binary beside, else
/// `python3`.
fn interpreters(args: &TimeitArgs) -> Vec<String> {
    if !args.pythons.is_empty() {
        return args.pythons.clone();
    }
    let from_env = std::env::var("SNAKESCOPE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let installed = || crate::installed::python().map(|p| p.to_string_lossy().into_owned());
    vec![from_env
        .or_else(installed)
        .unwrap_or_else(|| "python3".to_owned())]
}

/// The warning for a machine whose load average is at or above its CPUs:
/// the workers then share their CPUs and their times spread.
fn busy_machine() -> Option<String> {
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (load >= cpus as f64).then(|| {
        format!("the machine is busy (load {load:.1} on {cpus} CPUs): the times are noisier than on an idle one")
    })
}

/// A private directory for the workers' result files, removed on drop.
struct ResultDir(PathBuf);

impl ResultDir {
    fn create() -> Result<ResultDir, UserError> {
        let dir = std::env::temp_dir().join(format!("snakescope-timeit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            UserError::new(format!("cannot create `{}`: {e}", dir.display()))
                .with_hint("set TMPDIR to a writable directory")
        })?;
        Ok(ResultDir(dir))
    }
}

impl Drop for ResultDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
