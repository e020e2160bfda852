//! The message bus as a fluid FIFO queue.
//!
//! Every message (heartbeats, background traffic, flood messages) is ACL
//! checked and delivered in arrival order at `capacity` messages/s. Between
//! events the backlog changes linearly: `backlog' = in_rate - capacity`,
//! clamped to `[0, buffer_max]` (messages beyond the buffer are dropped).
//! A flood is therefore a *rate*, not one event per message: constant cost
//! per state change whatever the flood's size. A heartbeat enqueued at `t`
//! waits `backlog(t) / capacity` plus the base latency; it is dropped when
//! the buffer is full.
//!
//! Quantities are integers: backlog and counters in milli-messages.

use crate::engine::{SimDuration, SimTime, mul_div};

/// Bus state. Publishers are kernels, by index.
#[derive(Clone, Debug)]
pub struct Bus {
    capacity_per_s: u64,
    /// Capacity scale from network saturation, permille (1000 = full).
    capacity_scale_permille: u64,
    background_per_s: u64,
    buffer_max_milli: u64,
    base_latency_ns: u64,
    /// Active flood rate of each publisher, msgs/s.
    flood_per_s: Vec<u64>,
    /// Whether each publisher's floods violate the flood topic's ACL.
    flood_violates: Vec<bool>,
    /// Publishers quarantined at the edge (their messages never reach the queue).
    quarantined: Vec<bool>,
    backlog_milli: u64,
    last: SimTime,
    /// ACL violations seen per publisher, milli-messages.
    violations_milli: Vec<u64>,
    /// Messages rejected at the edge by quarantine, milli-messages.
    rejected_milli: u64,
    /// Messages dropped because the buffer was full, milli-messages.
    dropped_milli: u64,
}

impl Bus {
    /// Fold the bus's whole state into `h` (self-check fingerprints).
    pub fn fingerprint(&self, h: &mut crate::engine::Fingerprint) {
        h.u64(self.capacity_scale_permille)
            .u64(self.background_per_s)
            .u64(self.backlog_milli)
            .time(self.last)
            .u64(self.rejected_milli)
            .u64(self.dropped_milli);
        for i in 0..self.flood_per_s.len() {
            h.u64(self.flood_per_s[i])
                .bool(self.quarantined[i])
                .u64(self.violations_milli[i]);
        }
    }

    /// A bus for `publishers` kernels.
    pub fn new(
        capacity_per_s: u64,
        background_per_s: u64,
        buffer_max: u64,
        base_latency_ns: u64,
        flood_violates: Vec<bool>,
        start: SimTime,
    ) -> Bus {
        let n = flood_violates.len();
        Bus {
            capacity_per_s,
            capacity_scale_permille: 1000,
            background_per_s,
            buffer_max_milli: buffer_max.saturating_mul(1000),
            base_latency_ns,
            flood_per_s: vec![0; n],
            flood_violates,
            quarantined: vec![false; n],
            backlog_milli: 0,
            last: start,
            violations_milli: vec![0; n],
            rejected_milli: 0,
            dropped_milli: 0,
        }
    }

    fn capacity(&self) -> u64 {
        (self.capacity_per_s * self.capacity_scale_permille / 1000).max(1)
    }

    fn in_rate(&self) -> u64 {
        let mut r = self.background_per_s;
        for (i, &f) in self.flood_per_s.iter().enumerate() {
            if !self.quarantined[i] {
                r += f;
            }
        }
        r
    }

    fn backlog_after(&self, dt_ns: u64) -> (u64, u64) {
        // (backlog, dropped) after dt at the current rates.
        // Thousandths of a message: rate × dt × 1000 / 1e9.
        let inflow = mul_div(self.in_rate(), dt_ns, 1_000_000);
        let outflow = mul_div(self.capacity(), dt_ns, 1_000_000);
        let b = self.backlog_milli.saturating_add(inflow);
        let b = b.saturating_sub(outflow);
        if b > self.buffer_max_milli {
            (self.buffer_max_milli, b - self.buffer_max_milli)
        } else {
            (b, 0)
        }
    }

    /// Bring the fluid state up to `now` (call before any rate change).
    pub fn update(&mut self, now: SimTime) {
        let dt = now.saturating_duration_since(self.last).as_nanos();
        if dt == 0 {
            return;
        }
        let (b, dropped) = self.backlog_after(dt);
        self.backlog_milli = b;
        self.dropped_milli += dropped;
        for i in 0..self.flood_per_s.len() {
            let f = self.flood_per_s[i];
            if f == 0 {
                continue;
            }
            let m = mul_div(f, dt, 1_000_000);
            if self.quarantined[i] {
                self.rejected_milli += m;
            } else if self.flood_violates[i] {
                self.violations_milli[i] += m;
            }
        }
        self.last = now;
    }

    /// Enqueue one heartbeat at `now`: its delivery delay, or `None` if the
    /// buffer is full and it is dropped.
    pub fn send(&mut self, now: SimTime) -> Option<SimDuration> {
        self.update(now);
        if self.backlog_milli + 1000 > self.buffer_max_milli {
            self.dropped_milli += 1000;
            return None;
        }
        // backlog / 1000 messages over the capacity, in ns.
        let wait_ns = mul_div(self.backlog_milli, 1_000_000, self.capacity());
        self.backlog_milli += 1000;
        Some(SimDuration::from_nanos(wait_ns + self.base_latency_ns))
    }

    /// The delivery latency a message sent at `now` would see (pure).
    pub fn latency_at(&self, now: SimTime) -> SimDuration {
        let dt = now.saturating_duration_since(self.last).as_nanos();
        let (b, _) = self.backlog_after(dt);
        let wait_ns = mul_div(b, 1_000_000, self.capacity());
        SimDuration::from_nanos(wait_ns + self.base_latency_ns)
    }

    /// Add (or with a negative sign, remove) flood rate of `publisher`.
    pub fn add_flood(&mut self, now: SimTime, publisher: usize, rate_per_s: u64, add: bool) {
        self.update(now);
        let f = &mut self.flood_per_s[publisher];
        *f = if add {
            f.saturating_add(rate_per_s)
        } else {
            f.saturating_sub(rate_per_s)
        };
    }

    /// Set the background (legitimate) traffic, msgs/s.
    pub fn set_background(&mut self, now: SimTime, per_s: u64) {
        self.update(now);
        self.background_per_s = per_s;
    }

    /// Quarantine (or release) `publisher` at the edge.
    pub fn set_quarantined(&mut self, now: SimTime, publisher: usize, q: bool) {
        self.update(now);
        self.quarantined[publisher] = q;
    }

    /// Whether `publisher` is quarantined.
    pub fn is_quarantined(&self, publisher: usize) -> bool {
        self.quarantined[publisher]
    }

    /// Scale the capacity (network saturation), permille.
    pub fn set_capacity_scale(&mut self, now: SimTime, permille: u64) {
        self.update(now);
        self.capacity_scale_permille = permille.clamp(1, 1000);
    }

    /// ACL violations of `publisher` so far (whole messages).
    pub fn violations(&self, publisher: usize) -> u64 {
        self.violations_milli[publisher] / 1000
    }

    /// ACL violations of all publishers so far.
    pub fn violations_total(&self) -> u64 {
        self.violations_milli.iter().sum::<u64>() / 1000
    }

    /// Messages dropped for a full buffer so far.
    pub fn dropped(&self) -> u64 {
        self.dropped_milli / 1000
    }

    /// Messages rejected at the edge by quarantine so far.
    pub fn rejected(&self) -> u64 {
        self.rejected_milli / 1000
    }

    /// Backlog in messages at the last update.
    pub fn backlog(&self) -> u64 {
        self.backlog_milli / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_builds_a_backlog_that_delays_heartbeats_and_drains() {
        let t0 = SimTime::ZERO;
        let mut bus = Bus::new(10_000, 3_000, 100_000, 0, vec![true, false], t0);
        assert_eq!(bus.send(t0), Some(SimDuration::ZERO));
        bus.add_flood(t0, 0, 20_000, true);
        // After 1 s: backlog about 13,000 -> 1.3 s of wait.
        let d = bus.send(t0 + SimDuration::from_secs(1)).unwrap();
        assert!(d.as_millis() >= 1_299 && d.as_millis() <= 1_301, "{d}");
        assert_eq!(bus.violations(0), 20_000);
        // Quarantine: drains at 7,000/s.
        bus.set_quarantined(t0 + SimDuration::from_secs(1), 0, true);
        let d = bus.latency_at(t0 + SimDuration::from_secs(3));
        assert_eq!(d, SimDuration::ZERO);
        bus.update(t0 + SimDuration::from_secs(3));
        assert_eq!(bus.violations(0), 20_000);
        assert_eq!(bus.rejected(), 40_000);
    }

    #[test]
    fn a_full_buffer_drops_heartbeats() {
        let t0 = SimTime::ZERO;
        let mut bus = Bus::new(1_000, 0, 100, 0, vec![true], t0);
        bus.add_flood(t0, 0, 10_000, true);
        assert_eq!(bus.send(t0 + SimDuration::from_secs(1)), None);
        assert!(bus.dropped() > 8_000);
    }
}
