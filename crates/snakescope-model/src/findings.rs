//! The capture's `findings` section (`snakescope advise`): for each hotspot
//! whose runtime evidence made one of the advisor's rules fire, where it is,
//! that evidence, the remedy of *High Performance Python* with a before/after
//! written from the program's own line, its chapter, the gain it can give at
//! most (bounded by the hotspot's share), and with `--verify` the measured
//! result of the mechanical rewrite. Written by `python/snakescope/_advise/`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the advisor examined and found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Findings {
    /// The share (0–1) of the samples (time) or of the peak heap (memory)
    /// below which a hotspot is not examined.
    pub threshold: f64,
    /// The rules checked, by name.
    pub rules: Vec<String>,
    /// The samples the shares are of.
    pub samples: u64,
    /// What the capture lacked, so some rules could not fire.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The findings, largest bounded gain first.
    pub items: Vec<Finding>,
}

/// One hotspot, its evidence and its remedy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// The rule's name (`membership-list`, `local-alias`, …).
    pub rule: String,
    /// The problem and its remedy in a few words.
    pub title: String,
    /// The chapter of *High Performance Python* (2nd ed.) that teaches the remedy.
    pub chapter: String,
    pub file: String,
    pub line: u32,
    pub function: String,
    /// `time` (the share is of the samples) or `memory` (of the peak heap).
    #[schemars(extend("enum" = ["time", "memory"]))]
    pub resource: String,
    /// The hotspot's share (0–1) of the resource.
    pub share: f64,
    /// The runtime facts that made the rule fire, one sentence each.
    pub evidence: Vec<String>,
    /// The remedy in one sentence.
    pub remedy: String,
    /// The line as it is.
    pub before: String,
    /// The same code with the remedy applied (several lines when it needs them).
    pub after: String,
    /// The largest share (0–1) of the resource the remedy can save: at most `share`.
    pub gain: f64,
    /// The gain in words ("up to 41.0 % of the run time (the samples of …)").
    pub gain_text: String,
    /// Whether `advise --verify` can apply the remedy mechanically.
    #[serde(default)]
    pub mechanical: bool,
    /// The result of `advise --verify`; null when not verified.
    #[serde(default)]
    pub verified: Option<Verification>,
}

/// What `advise --verify` measured for one finding's rewrite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verification {
    /// `faster`, `smaller` (a memory remedy: lower peak RSS), `no gain`,
    /// `rejected` (the rewritten program's output or
    /// exit status differed) or `not applied` (the rewrite did not apply).
    #[schemars(extend("enum" = ["faster", "smaller", "no gain", "rejected", "not applied"]))]
    pub status: String,
    /// The result in one sentence.
    pub detail: String,
    /// Median wall time of the original over the rewritten (>1: faster).
    #[serde(default)]
    pub ratio: Option<f64>,
    /// The spread of that ratio: its lowest and highest over the paired repetitions.
    #[serde(default)]
    pub ratio_low: Option<f64>,
    #[serde(default)]
    pub ratio_high: Option<f64>,
    /// Repetitions of each program (interleaved).
    #[serde(default)]
    pub repetitions: u32,
    /// Peak RSS of the original over the rewritten's (the medians).
    #[serde(default)]
    pub rss_ratio: Option<f64>,
    /// The rewrite as a unified diff of the program's file.
    #[serde(default)]
    pub patch: String,
}
