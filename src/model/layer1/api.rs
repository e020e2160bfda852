//! The API ingress: legitimate clients plus an optional flooding client,
//! an optional per-client token bucket (rate_limiter), a bounded FIFO served
//! by the `api_server` kernel, and a success-rate window.
//!
//! Traffic is fluid per tick (a tick of 100 ms carries `rate x 0.1 s`
//! requests): a flood costs one event per tick, whatever its rate. Within a
//! tick, a legitimate request succeeds if it is admitted, finds room in the
//! queue, and its queueing delay (`backlog / capacity`) is under the
//! timeout; requests served after their timeout are failures (congestion
//! collapse: the server works on requests nobody waits for).

use crate::engine::mul_div;

/// Most ticks in the success window.
pub const WINDOW_MAX: usize = 64;

/// API ingress state.
#[derive(Clone, Debug)]
pub struct Api {
    capacity_rps: u64,
    background_rps: u64,
    queue_max: u64,
    timeout_ns: u64,
    tick_ns: u64,
    window: usize,
    /// Flood rate from the flooding client, requests/s.
    pub flood_rps: u64,
    /// Backlog, milli-requests.
    backlog_milli: u64,
    tokens_milli: u64,
    offered: [u64; WINDOW_MAX],
    succeeded: [u64; WINDOW_MAX],
    cursor: usize,
    /// Legitimate requests offered so far (milli).
    pub legit_offered_milli: u64,
    /// Legitimate requests that failed so far (milli).
    pub legit_failed_milli: u64,
    /// Requests rejected by the rate limiter so far (milli).
    pub limiter_rejected_milli: u64,
}

/// What one tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiTick {
    /// The rate limiter rejected requests in this tick.
    pub limiter_rejected: bool,
    /// The flooding client exceeded its token bucket in this tick (the
    /// rate limiter's condition, met whether or not it enforces).
    pub over_limit: bool,
}

impl Api {
    /// A new ingress (validated parameters).
    pub fn new(
        capacity_rps: u64,
        background_rps: u64,
        queue_max: u64,
        timeout_ns: u64,
        tick_ns: u64,
        window_ticks: u32,
        burst: u64,
    ) -> Api {
        Api {
            capacity_rps,
            background_rps,
            queue_max,
            timeout_ns,
            tick_ns,
            window: (window_ticks as usize).clamp(1, WINDOW_MAX),
            flood_rps: 0,
            backlog_milli: 0,
            tokens_milli: burst.saturating_mul(1000),
            offered: [0; WINDOW_MAX],
            succeeded: [0; WINDOW_MAX],
            cursor: 0,
            legit_offered_milli: 0,
            legit_failed_milli: 0,
            limiter_rejected_milli: 0,
        }
    }

    /// Advance one tick. `server_up`: the api_server kernel runs;
    /// `limiter`: the per-client token bucket `(per_client_rps, burst)`,
    /// which always runs (the rate limiter's condition); `enforce`: the
    /// rate_limiter is deployed and rejects what the bucket does not admit.
    pub fn tick(&mut self, server_up: bool, limiter: (u64, u64), enforce: bool) -> ApiTick {
        // Thousandths of a request per tick: rps × dt × 1000 / 1e9.
        let dt = self.tick_ns;
        let per_tick = |rps: u64| mul_div(rps, dt, 1_000_000);
        let legit = per_tick(self.background_rps);
        let mut flood = per_tick(self.flood_rps);
        let mut out = ApiTick::default();
        // The flooding client's own bucket; legitimate clients are each far
        // under the per-client rate and pass.
        let (rate, burst) = limiter;
        self.tokens_milli = (self.tokens_milli + per_tick(rate)).min(burst * 1000);
        let admitted = flood.min(self.tokens_milli);
        self.tokens_milli -= admitted;
        let rejected = flood - admitted;
        out.over_limit = rejected > 0;
        if enforce && rejected > 0 {
            out.limiter_rejected = true;
            self.limiter_rejected_milli += rejected;
            flood = admitted;
        }
        let arrivals = legit + flood;
        let room = (self.queue_max * 1000).saturating_sub(self.backlog_milli);
        let accepted = arrivals.min(room);
        // Legitimate share of what found room.
        let legit_accepted = if arrivals == 0 {
            0
        } else {
            mul_div(legit, accepted, arrivals)
        };
        let wait_ns = if server_up {
            // backlog / 1000 requests over capacity_rps, in ns.
            mul_div(self.backlog_milli, 1_000_000, self.capacity_rps)
        } else {
            u64::MAX
        };
        let legit_ok = if wait_ns <= self.timeout_ns {
            legit_accepted
        } else {
            0
        };
        self.backlog_milli += accepted;
        if server_up {
            self.backlog_milli = self
                .backlog_milli
                .saturating_sub(per_tick(self.capacity_rps));
        }
        self.offered[self.cursor] = legit;
        self.succeeded[self.cursor] = legit_ok;
        self.cursor = (self.cursor + 1) % self.window;
        self.legit_offered_milli += legit;
        self.legit_failed_milli += legit - legit_ok;
        out
    }

    /// Fold the ingress's whole state into `h` (self-check fingerprints).
    pub fn fingerprint(&self, h: &mut crate::engine::Fingerprint) {
        h.u64(self.background_rps)
            .u64(self.flood_rps)
            .u64(self.backlog_milli)
            .u64(self.tokens_milli)
            .u64(self.cursor as u64)
            .u64(self.legit_offered_milli)
            .u64(self.legit_failed_milli)
            .u64(self.limiter_rejected_milli);
        for i in 0..self.window {
            h.u64(self.offered[i]).u64(self.succeeded[i]);
        }
    }

    /// Set the legitimate background traffic, requests/s.
    pub fn set_background_rps(&mut self, rps: u64) {
        self.background_rps = rps;
    }

    /// Success rate of legitimate requests over the window, permille (1000
    /// when nothing was offered).
    pub fn success_permille(&self) -> u16 {
        let o: u64 = self.offered[..self.window].iter().sum();
        let s: u64 = self.succeeded[..self.window].iter().sum();
        (s * 1000).checked_div(o).map_or(1000, |v| v as u16)
    }

    /// Current queueing delay, ms.
    pub fn latency_ms(&self) -> u64 {
        (self.backlog_milli as u128 * 1000 / 1000 / self.capacity_rps as u128) as u64
    }

    /// Backlog, requests.
    pub fn backlog(&self) -> u64 {
        self.backlog_milli / 1000
    }
}
