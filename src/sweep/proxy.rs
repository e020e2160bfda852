//! The chaos proxy between the agent and the API it calls.
//!
//! Every call passes through the proxy. With probability `rate` (an integer
//! ratio in parts per million, drawn from the proxy's own seeded stream) the
//! proxy injects a failure instead of forwarding the call; the failure type
//! is drawn by the configured weights:
//! - **HTTP 503**: answered fast (`error_latency_ms`);
//! - **HTTP 429**: answered fast with a `Retry-After` of `retry_after_ms`;
//! - **timeout**: no answer; the client gives up after `timeout_ms`.
//!
//! Forwarded calls take the step's upstream latency, uniform in
//! `[latency/2, 3·latency/2]`, drawn from a separate `upstream` stream (so
//! changing the failure mix never shifts latencies and vice versa).
//! Input validation: a call whose parameters are malformed (see
//! [`CallRequest::well_formed`]) is answered HTTP 400 without reaching the
//! API and never crashes the run.

use serde::{Deserialize, Serialize};

use crate::engine::{RngDraws, SeedPath, SimRng};
use crate::error::FieldError;

/// Failure rates are integer parts per million.
pub const RATE_PPM_MAX: u32 = 1_000_000;

/// What the proxy injects, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Relative weight of HTTP 503 among injected failures.
    pub weight_503: u32,
    /// Relative weight of HTTP 429 among injected failures.
    pub weight_429: u32,
    /// Relative weight of timeouts among injected failures.
    pub weight_timeout: u32,
    /// Latency of an injected 503/429 answer, in milliseconds (0..=60,000).
    pub error_latency_ms: u64,
    /// `Retry-After` carried by a 429, in milliseconds (0..=600,000).
    pub retry_after_ms: u64,
    /// Client timeout: how long a call without answer takes, in milliseconds
    /// (1..=600,000).
    pub timeout_ms: u64,
}

impl Default for ProxyConfig {
    /// 503 : 429 : timeout = 2 : 1 : 1; errors answer in 5 ms; Retry-After
    /// 1 s; client timeout 2 s.
    fn default() -> Self {
        ProxyConfig {
            weight_503: 2,
            weight_429: 1,
            weight_timeout: 1,
            error_latency_ms: 5,
            retry_after_ms: 1_000,
            timeout_ms: 2_000,
        }
    }
}

impl ProxyConfig {
    /// Check the ranges; an error names the field (the caller nests it with
    /// [`FieldError::within`] and locates it with [`FieldError::in_file`]).
    pub fn validate(&self) -> Result<(), FieldError> {
        let bad = |name: &str, message: String| FieldError::new(name, message);
        let total = self.weight_503 as u64 + self.weight_429 as u64 + self.weight_timeout as u64;
        if total == 0 || total > 1_000_000 {
            return Err(bad(
                "weight_503",
                format!("the three weights sum to {total}; allowed 1..=1000000"),
            ));
        }
        if self.error_latency_ms > 60_000 {
            return Err(bad(
                "error_latency_ms",
                format!("{} is outside 0..=60000", self.error_latency_ms),
            ));
        }
        if self.retry_after_ms > 600_000 {
            return Err(bad(
                "retry_after_ms",
                format!("{} is outside 0..=600000", self.retry_after_ms),
            ));
        }
        if !(1..=600_000).contains(&self.timeout_ms) {
            return Err(bad(
                "timeout_ms",
                format!("{} is outside 1..=600000", self.timeout_ms),
            ));
        }
        Ok(())
    }
}

/// The kinds of error an agent can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorKind {
    /// HTTP 503 Service Unavailable.
    Http503,
    /// HTTP 429 Too Many Requests (with Retry-After).
    Http429,
    /// No answer within the client timeout.
    Timeout,
    /// HTTP 400: the request was malformed (rejected by validation).
    BadRequest,
}

/// The answer to one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// The API answered successfully.
    Ok,
    /// An error; for 429, `retry_after_ms` says how long to wait.
    Err {
        /// The error.
        kind: ErrorKind,
        /// `Retry-After` in milliseconds (0 unless 429).
        retry_after_ms: u32,
    },
}

impl CallResult {
    /// Whether the call failed.
    pub fn is_err(self) -> bool {
        matches!(self, CallResult::Err { .. })
    }
}

/// A call as the agent issues it: which operation, on which entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallRequest {
    /// Index of the workflow step (the operation).
    pub step: u8,
    /// The entity id the call carries (a pet id, an order id); 0 is missing.
    pub entity_id: u32,
    /// Quantity for inventory/order calls; must be 1..=100.
    pub quantity: u16,
}

impl CallRequest {
    /// Input validation: an id is present and the quantity is in range.
    pub fn well_formed(&self) -> bool {
        self.entity_id != 0 && (1..=100).contains(&self.quantity)
    }
}

/// The chaos proxy: its failure rate and its two seeded streams.
pub struct ChaosProxy {
    cfg: ProxyConfig,
    rate_ppm: u32,
    inject: SimRng,
    upstream: SimRng,
}

impl ChaosProxy {
    /// A proxy injecting failures with probability `rate_ppm / 10^6`, its
    /// streams derived from `seed.child("proxy")` and
    /// `seed.child("upstream")`.
    pub fn new(cfg: ProxyConfig, rate_ppm: u32, seed: SeedPath) -> ChaosProxy {
        ChaosProxy {
            cfg,
            rate_ppm: rate_ppm.min(RATE_PPM_MAX),
            inject: seed.child("proxy").rng(),
            upstream: seed.child("upstream").rng(),
        }
    }

    /// Handle one call whose upstream latency is about `latency_ns`; returns
    /// the answer and how long the caller waits for it, in nanoseconds.
    pub fn call(&mut self, req: CallRequest, latency_ns: u64) -> (CallResult, u64) {
        // Both draws happen for every call, whatever the outcome, so the
        // streams stay aligned across variants and failure rates.
        let injected = self.inject.ratio(self.rate_ppm as u64, RATE_PPM_MAX as u64);
        let total = self.cfg.weight_503 as u64
            + self.cfg.weight_429 as u64
            + self.cfg.weight_timeout as u64;
        let pick = self.inject.below(total);
        let upstream_ns = latency_ns / 2 + self.upstream.below(latency_ns + 1);
        if !req.well_formed() {
            return (
                CallResult::Err {
                    kind: ErrorKind::BadRequest,
                    retry_after_ms: 0,
                },
                self.cfg.error_latency_ms * 1_000_000,
            );
        }
        if !injected {
            return (CallResult::Ok, upstream_ns);
        }
        let err_ns = self.cfg.error_latency_ms * 1_000_000;
        if pick < self.cfg.weight_503 as u64 {
            (
                CallResult::Err {
                    kind: ErrorKind::Http503,
                    retry_after_ms: 0,
                },
                err_ns,
            )
        } else if pick < self.cfg.weight_503 as u64 + self.cfg.weight_429 as u64 {
            (
                CallResult::Err {
                    kind: ErrorKind::Http429,
                    retry_after_ms: self.cfg.retry_after_ms as u32,
                },
                err_ns,
            )
        } else {
            (
                CallResult::Err {
                    kind: ErrorKind::Timeout,
                    retry_after_ms: 0,
                },
                self.cfg.timeout_ms * 1_000_000,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: CallRequest = CallRequest {
        step: 0,
        entity_id: 7,
        quantity: 1,
    };

    #[test]
    fn rate_zero_never_injects_and_rate_one_always_does() {
        let mut p = ChaosProxy::new(ProxyConfig::default(), 0, SeedPath::root(1));
        assert!((0..1000).all(|_| p.call(REQ, 10_000_000).0 == CallResult::Ok));
        let mut p = ChaosProxy::new(ProxyConfig::default(), RATE_PPM_MAX, SeedPath::root(1));
        assert!((0..1000).all(|_| p.call(REQ, 10_000_000).0.is_err()));
    }

    #[test]
    fn injected_mix_follows_weights() {
        let mut p = ChaosProxy::new(ProxyConfig::default(), RATE_PPM_MAX, SeedPath::root(2));
        let mut counts = [0u32; 3];
        for _ in 0..8000 {
            match p.call(REQ, 1).0 {
                CallResult::Err {
                    kind: ErrorKind::Http503,
                    ..
                } => counts[0] += 1,
                CallResult::Err {
                    kind: ErrorKind::Http429,
                    retry_after_ms,
                } => {
                    assert_eq!(retry_after_ms, 1_000);
                    counts[1] += 1
                }
                CallResult::Err {
                    kind: ErrorKind::Timeout,
                    ..
                } => counts[2] += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        // 2 : 1 : 1 of 8000 = 4000 / 2000 / 2000, within a few sigma.
        assert!((3800..4200).contains(&counts[0]), "{counts:?}");
        assert!((1850..2150).contains(&counts[1]), "{counts:?}");
        assert!((1850..2150).contains(&counts[2]), "{counts:?}");
    }

    #[test]
    fn malformed_requests_get_400_without_crashing() {
        let mut p = ChaosProxy::new(ProxyConfig::default(), 0, SeedPath::root(3));
        let bad = CallRequest {
            entity_id: 0,
            ..REQ
        };
        assert_eq!(
            p.call(bad, 10).0,
            CallResult::Err {
                kind: ErrorKind::BadRequest,
                retry_after_ms: 0
            }
        );
        let bad_qty = CallRequest { quantity: 0, ..REQ };
        assert!(p.call(bad_qty, 10).0.is_err());
    }
}
