//! A node's local clocks: a wall clock (true time + offset + drift) that
//! clock faults can bump, strobe, scramble and reset, and a monotonic clock
//! that only drift affects (what a careful lease uses).

use crate::engine::{SimDuration, SimTime};

const PPM: i128 = 1_000_000;

/// The two clocks of one node. Readings are signed ns (a wall clock may be
/// set before the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalClock {
    anchor_true_ns: u64,
    wall_at_anchor_ns: i64,
    mono_at_anchor_ns: i64,
    drift_ppm: i32,
}

impl LocalClock {
    /// A clock reading `now + offset_ns` that runs `drift_ppm` fast.
    pub fn new(now: SimTime, offset_ns: i64, drift_ppm: i32) -> LocalClock {
        LocalClock {
            anchor_true_ns: now.as_nanos(),
            wall_at_anchor_ns: now.as_nanos() as i64 + offset_ns,
            mono_at_anchor_ns: now.as_nanos() as i64,
            drift_ppm,
        }
    }

    fn elapsed_local(&self, now: SimTime) -> i64 {
        let d = now.as_nanos().saturating_sub(self.anchor_true_ns);
        // Fast path in 64 bits when the product fits (always, for drifts
        // and spans a run meets): same truncating division, same result as
        // the 128-bit formula, without a 128-bit division per reading.
        if let Ok(d64) = i64::try_from(d)
            && let Some(p) = d64.checked_mul(self.drift_ppm as i64)
        {
            return d64.wrapping_add(p / PPM as i64);
        }
        let d = d as i128;
        (d + d * self.drift_ppm as i128 / PPM) as i64
    }

    /// The wall-clock reading at true time `now`.
    pub fn wall(&self, now: SimTime) -> i64 {
        self.wall_at_anchor_ns + self.elapsed_local(now)
    }

    /// The monotonic-clock reading at `now` (immune to bumps and resets).
    pub fn mono(&self, now: SimTime) -> i64 {
        self.mono_at_anchor_ns + self.elapsed_local(now)
    }

    /// Wall clock minus true time.
    pub fn offset(&self, now: SimTime) -> i64 {
        self.wall(now) - now.as_nanos() as i64
    }

    /// The drift rate, ppm.
    pub fn drift_ppm(&self) -> i32 {
        self.drift_ppm
    }

    fn reanchor(&mut self, now: SimTime) {
        self.wall_at_anchor_ns = self.wall(now);
        self.mono_at_anchor_ns = self.mono(now);
        self.anchor_true_ns = now.as_nanos();
    }

    /// Jump the wall clock by `delta_ns` (either sign).
    pub fn bump(&mut self, now: SimTime, delta_ns: i64) {
        self.reanchor(now);
        self.wall_at_anchor_ns = self.wall_at_anchor_ns.saturating_add(delta_ns);
    }

    /// Set the wall clock to true time + `offset_ns`.
    pub fn set_offset(&mut self, now: SimTime, offset_ns: i64) {
        self.reanchor(now);
        self.wall_at_anchor_ns = now.as_nanos() as i64 + offset_ns;
    }

    /// Change the drift rate from now on.
    pub fn set_drift(&mut self, now: SimTime, drift_ppm: i32) {
        self.reanchor(now);
        self.drift_ppm = drift_ppm;
    }

    /// The true duration a timer of `local` local nanoseconds takes.
    pub fn true_duration(&self, local: SimDuration) -> SimDuration {
        if self.drift_ppm == 0 {
            // `local x PPM / PPM`: the division below, without it.
            return local;
        }
        let den = PPM + self.drift_ppm as i128;
        if let Some(num) = i64::try_from(local.as_nanos())
            .ok()
            .and_then(|l| l.checked_mul(PPM as i64))
        {
            // 64-bit fast path, same truncating division as below.
            let t = num / den as i64;
            return SimDuration::from_nanos(t.max(0) as u64);
        }
        let l = local.as_nanos() as i128;
        let t = l * PPM / den;
        SimDuration::from_nanos(t.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_moves_wall_not_mono_and_drift_moves_both() {
        let t0 = SimTime::from_nanos(1_000);
        let mut c = LocalClock::new(t0, 5, 0);
        assert_eq!(c.wall(t0), 1_005);
        c.bump(t0, -2_000);
        assert_eq!(c.wall(t0), -995);
        assert_eq!(c.mono(t0), 1_000);
        c.set_drift(t0, 1_000); // 0.1 % fast
        let t1 = SimTime::from_nanos(1_001_000);
        assert_eq!(c.mono(t1), 1_000 + 1_001_000);
        assert_eq!(c.offset(t1), -2_000 + 5 + 1_000);
        c.set_offset(t1, 0);
        assert_eq!(c.wall(t1), 1_001_000);
        let d = c.true_duration(SimDuration::from_nanos(1_001_000));
        assert_eq!(d.as_nanos(), 1_000_000);
        // Without drift a timer takes its local duration, however long.
        let still = LocalClock::new(t0, 5, 0);
        for ns in [0, 1, 999_999_999, i64::MAX as u64, u64::MAX] {
            assert_eq!(
                still.true_duration(SimDuration::from_nanos(ns)).as_nanos(),
                ns
            );
        }
    }
}
