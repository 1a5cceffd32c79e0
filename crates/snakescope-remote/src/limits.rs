//! The ranges a sampling rate and a recording duration must lie in: the one
//! place for these rules, used by `record`, `run` and the agent's `start`.
//!
//! Outside them the sampler cannot work: below one sample a second a period
//! is so long that the target's exit or a Ctrl-C goes unnoticed for as long
//! (`--rate 1e-9` waited 30 years), above a million no sample can be read in
//! one period; a duration must be a finite positive number of seconds that
//! `Duration` can hold and `Instant` can add.

use std::time::Duration;

/// The lowest sampling rate accepted, in samples per second.
pub const MIN_RATE_HZ: f64 = 1.0;
/// The highest sampling rate accepted, in samples per second.
pub const MAX_RATE_HZ: f64 = 1_000_000.0;
/// The shortest recording accepted, in seconds (one millisecond).
pub const MIN_DURATION_S: f64 = 0.001;
/// The longest recording accepted, in seconds (one year).
pub const MAX_DURATION_S: f64 = 365.0 * 24.0 * 3600.0;

/// A setting outside its range; the message names the value and the range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error("sampling rate `{0:?}` is out of range: use {MIN_RATE_HZ} to {MAX_RATE_HZ} samples per second")]
    Rate(f64),
    #[error("duration `{0:?}` is out of range: use {MIN_DURATION_S} to {MAX_DURATION_S} seconds (one year)")]
    Duration(f64),
}

/// `hz` when it is a sampling rate the sampler can keep.
pub fn check_rate(hz: f64) -> Result<f64, LimitError> {
    if (MIN_RATE_HZ..=MAX_RATE_HZ).contains(&hz) {
        Ok(hz)
    } else {
        Err(LimitError::Rate(hz))
    }
}

/// `seconds` as a [`Duration`] when it is a recording length the sampler can keep.
pub fn check_duration(seconds: f64) -> Result<Duration, LimitError> {
    if (MIN_DURATION_S..=MAX_DURATION_S).contains(&seconds) {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(LimitError::Duration(seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_the_range_are_refused() {
        for bad in [0.0, -1.0, 1e-9, 0.5, 1e300, f64::NAN, f64::INFINITY, 2e6] {
            assert!(check_rate(bad).is_err(), "{bad}");
        }
        for good in [1.0, 99.5, 1000.0, 1e6] {
            assert_eq!(check_rate(good), Ok(good));
        }
    }

    #[test]
    fn durations_outside_the_range_are_refused() {
        for bad in [
            0.0,
            -1.0,
            1e-300,
            1e300,
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
        ] {
            assert!(check_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(check_duration(1.5), Ok(Duration::from_millis(1500)));
        // The longest one still fits an Instant's arithmetic.
        let longest = check_duration(MAX_DURATION_S).unwrap();
        assert!(std::time::Instant::now().checked_add(longest).is_some());
    }
}
