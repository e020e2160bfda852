//! The safeguard catalogue: every safeguard by name, which layer implements
//! it, and sets and logs of safeguards.
//!
//! A safeguard is a *mechanism* in the model: it observes something, fires
//! when a condition holds, and acts. Its mechanism lives in the model module
//! of the component it guards (see [`Safeguard::implemented_in`]); this module
//! only names them, so scenarios, the programme and the CLI can refer to them
//! by a stable name. A safeguard that is not deployed acts on nothing, and
//! the dynamics change accordingly; but its detector still watches its
//! signal (a shadow detector), so a run knows when and why it *would* have
//! fired ([`Evidence`], [`SafeguardLog`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::engine::SimTime;

mod evidence;

pub use evidence::{Cause, Evidence, SCENARIOS_PER_RUN_MAX, Signal};

macro_rules! safeguards {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $layer:literal, $module:literal; )*) => {
        /// A safeguard, by stable name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[repr(u8)]
        pub enum Safeguard {
            $( $(#[$doc])* $variant, )*
        }

        impl Safeguard {
            /// Every safeguard, in catalogue order.
            pub const ALL: &'static [Safeguard] = &[ $( Safeguard::$variant, )* ];

            /// The stable snake_case name (`"rate_limiter"`).
            pub const fn name(self) -> &'static str {
                match self { $( Safeguard::$variant => $name, )* }
            }

            /// The layer whose model implements it: `"layer1"`, `"layer2"` or `"consistency"`.
            pub const fn layer(self) -> &'static str {
                match self { $( Safeguard::$variant => $layer, )* }
            }

            /// The module that holds its mechanism (where to read and change it).
            pub const fn implemented_in(self) -> &'static str {
                match self { $( Safeguard::$variant => $module, )* }
            }

            /// Look a safeguard up by name.
            pub fn from_name(name: &str) -> Option<Safeguard> {
                match name { $( $name => Some(Safeguard::$variant), )* _ => None }
            }
        }
    };
}

safeguards! {
    /// Restarts a kernel whose heartbeats stop arriving (missed-heartbeat count).
    HeartbeatWatchdog = "heartbeat_watchdog", "layer1", "model::layer1";
    /// Supervises restarts: backoff, at most N restarts, then marks the kernel failed.
    KernelWatchdog = "kernel_watchdog", "layer1", "model::layer1";
    /// Detects a dead critical kernel within 30 s and fires the emergency protocol.
    CriticalKernelHeartbeatTrigger = "critical_kernel_heartbeat_trigger", "layer1", "model::layer1";
    /// Detects an ACL-violation flood on the bus and throttles/quarantines the violator.
    AclViolationMonitor = "acl_violation_monitor", "layer1", "model::layer1";
    /// Detects CPU/memory/disk/network saturation and isolates the hog.
    ResourcePressureMonitor = "resource_pressure_monitor", "layer1", "model::layer1";
    /// Keeps snapshots valid: refuses restores that move the log index backwards.
    SnapshotHygieneManager = "snapshot_hygiene_manager", "layer1", "model::layer1";
    /// Token bucket on the API ingress.
    RateLimiter = "rate_limiter", "layer1", "model::layer1";
    /// Runs the emergency critical-kernel recovery playbook.
    EmergencyProtocol = "emergency_protocol", "layer1", "model::layer1";
    /// Watches HTM queue depth against warning/critical thresholds; drives shedding.
    HtmQueueDepthMonitor = "htm_queue_depth_monitor", "layer2", "model::layer2";
    /// Applies backpressure to the trigger mesh under event storms.
    TriggerMeshBackpressure = "trigger_mesh_backpressure", "layer2", "model::layer2";
    /// Restarts a paused or stuck scheduler and reroutes its work.
    SchedulerWatchdog = "scheduler_watchdog", "layer2", "model::layer2";
    /// Detects policy cascades and cuts recursion.
    CascadeDetector = "cascade_detector", "layer2", "model::layer2";
    /// Respawns lost workers and reassigns their tasks.
    WorkerPoolRecovery = "worker_pool_recovery", "layer2", "model::layer2";
    /// Opens on a high failure rate and rejects calls fast until a trial succeeds.
    CircuitBreaker = "circuit_breaker", "layer2", "model::layer2";
    /// Quarantines a failing replica, rebuilds it in a sandbox, promotes by canary.
    SandboxFallback = "sandbox_fallback", "layer2", "model::layer2";
    /// Sheds low-priority, old tasks when the queue passes its critical threshold.
    LoadShedder = "load_shedder", "layer2", "model::layer2";
    /// Acknowledges an append only after a quorum of replicas holds it.
    QuorumAck = "quorum_ack", "consistency", "model::cluster";
    /// Epoch/fencing tokens: replicas refuse writes from a deposed leader.
    FencingTokens = "fencing_tokens", "consistency", "model::cluster";
    /// Bounds the leader lease by the maximum clock skew.
    LeaseSkewBound = "lease_skew_bound", "consistency", "model::cluster";
    /// Compare-and-set on concurrent writes.
    CompareAndSet = "compare_and_set", "consistency", "model::cluster";
}

const _: () = assert!(Safeguard::ALL.len() <= 32, "SafeguardSet is a u32 bitset");

impl fmt::Display for Safeguard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of safeguards (a bitset), iterated in catalogue order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SafeguardSet(u32);

impl SafeguardSet {
    /// No safeguard.
    pub const EMPTY: SafeguardSet = SafeguardSet(0);

    /// Every safeguard in the catalogue.
    pub fn all() -> SafeguardSet {
        Safeguard::ALL.iter().copied().collect()
    }

    /// Whether `s` is in the set.
    #[inline]
    pub const fn contains(self, s: Safeguard) -> bool {
        self.0 & (1 << s as u8) != 0
    }

    /// Add `s`.
    pub fn insert(&mut self, s: Safeguard) {
        self.0 |= 1 << s as u8;
    }

    /// Remove `s`.
    pub fn remove(&mut self, s: Safeguard) {
        self.0 &= !(1 << s as u8);
    }

    /// The set with `s` added.
    pub fn with(mut self, s: Safeguard) -> SafeguardSet {
        self.insert(s);
        self
    }

    /// The set with `s` removed.
    pub fn without(mut self, s: Safeguard) -> SafeguardSet {
        self.remove(s);
        self
    }

    /// Elements of `self` not in `other`.
    pub fn difference(self, other: SafeguardSet) -> SafeguardSet {
        SafeguardSet(self.0 & !other.0)
    }

    /// Elements in both.
    pub fn intersection(self, other: SafeguardSet) -> SafeguardSet {
        SafeguardSet(self.0 & other.0)
    }

    /// Elements in either.
    pub fn union(self, other: SafeguardSet) -> SafeguardSet {
        SafeguardSet(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of safeguards in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The raw bits (stable: bit i is `Safeguard::ALL[i]`).
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The members in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Safeguard> {
        Safeguard::ALL
            .iter()
            .copied()
            .filter(move |s| self.contains(*s))
    }

    /// Names joined by `sep` (`"rate_limiter;load_shedder"`), empty for none.
    pub fn join(self, sep: &str) -> String {
        self.iter()
            .map(Safeguard::name)
            .collect::<Vec<_>>()
            .join(sep)
    }

    /// Apply a user's safeguard spec to a stack's default set:
    /// `default`, `none`, `all`, or a comma list of `+name` / `-name` edits
    /// to the default (a bare `name` means `+name`). Errors name the unknown
    /// safeguard and list the allowed names.
    pub fn from_spec(spec: &str, default: SafeguardSet) -> Result<SafeguardSet, String> {
        match spec.trim() {
            "default" | "" => return Ok(default),
            "none" => return Ok(SafeguardSet::EMPTY),
            "all" => return Ok(SafeguardSet::all()),
            _ => {}
        }
        let mut set = default;
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (add, name) = match item.as_bytes()[0] {
                b'+' => (true, &item[1..]),
                b'-' => (false, &item[1..]),
                _ => (true, item),
            };
            let s = Safeguard::from_name(name).ok_or_else(|| {
                format!(
                    "unknown safeguard '{name}'; expected default, none, all, or +/-name with name one of: {}",
                    SafeguardSet::all().join(", ")
                )
            })?;
            if add { set.insert(s) } else { set.remove(s) }
        }
        Ok(set)
    }
}

impl FromIterator<Safeguard> for SafeguardSet {
    fn from_iter<I: IntoIterator<Item = Safeguard>>(iter: I) -> Self {
        let mut set = SafeguardSet::EMPTY;
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl Serialize for SafeguardSet {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for SafeguardSet {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let v: Vec<Safeguard> = Vec::deserialize(de)?;
        Ok(v.into_iter().collect())
    }
}

/// One line of a [`SafeguardLog`]: the first evidence and the count of
/// one safeguard's met condition, for one cause scenario (or none), acted
/// on (a firing) or not (a need).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The safeguard.
    pub safeguard: Safeguard,
    /// Whether the safeguard acted (deployed: a firing) or only its shadow
    /// detector saw the condition (a need).
    pub acted: bool,
    /// The first time the condition was met for this cause.
    pub first: Evidence,
    /// How often it was met for this cause.
    pub count: u32,
}

impl Record {
    /// The scenario the record is credited to, if a fault caused it.
    pub fn scenario(&self) -> Option<u8> {
        self.first.cause.map(|c| c.scenario)
    }
}

/// What each safeguard's detector saw during a run: firings (deployed, it
/// acted) and needs (not deployed, or deployed but unable to act: its
/// condition was met and nothing acted), each with the first evidence per
/// cause scenario. Bounded whatever the length of the run: at most one
/// record per (safeguard, firing or need, cause scenario or none), so at
/// most 32 x 2 x ([`SCENARIOS_PER_RUN_MAX`] + 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafeguardLog {
    first: [Option<SimTime>; 32],
    count: [u32; 32],
    records: Vec<Record>,
}

impl SafeguardLog {
    /// Record that `s` fired (acted) on `evidence`.
    pub fn fire(&mut self, s: Safeguard, evidence: Evidence) {
        let i = s as usize;
        if self.first[i].is_none() {
            self.first[i] = Some(evidence.at);
        }
        self.count[i] = self.count[i].saturating_add(1);
        self.record(s, true, evidence, 1);
    }

    /// Record that `s`'s condition was met on `evidence` but nothing acted
    /// (its shadow detector: the safeguard is not deployed, or cannot act).
    pub fn need(&mut self, s: Safeguard, evidence: Evidence) {
        self.record(s, false, evidence, 1);
    }

    /// The one entry point of a detector whose condition is met: a firing
    /// when `deployed` (returns `true`: act now), a need otherwise (returns
    /// `false`: act on nothing).
    pub fn detect(&mut self, s: Safeguard, deployed: bool, evidence: Evidence) -> bool {
        if deployed {
            self.fire(s, evidence);
        } else {
            self.need(s, evidence);
        }
        deployed
    }

    fn record(&mut self, s: Safeguard, acted: bool, evidence: Evidence, n: u32) {
        let scenario = evidence.cause.map(|c| c.scenario);
        debug_assert!(
            scenario.is_none_or(|k| (k as usize) < SCENARIOS_PER_RUN_MAX),
            "cause scenario out of range"
        );
        match self
            .records
            .iter_mut()
            .find(|r| r.safeguard == s && r.acted == acted && r.scenario() == scenario)
        {
            Some(r) => {
                r.count = r.count.saturating_add(n);
                if evidence.at < r.first.at {
                    r.first = evidence;
                }
            }
            None => self.records.push(Record {
                safeguard: s,
                acted,
                first: evidence,
                count: n,
            }),
        }
    }

    /// The set of safeguards that fired at least once (whatever the cause).
    pub fn fired(&self) -> SafeguardSet {
        Safeguard::ALL
            .iter()
            .copied()
            .filter(|&s| self.count[s as usize] > 0)
            .collect()
    }

    /// When `s` first fired (whatever the cause).
    pub fn first_fired(&self, s: Safeguard) -> Option<SimTime> {
        self.first[s as usize]
    }

    /// How many times `s` fired (whatever the cause).
    pub fn count(&self, s: Safeguard) -> u32 {
        self.count[s as usize]
    }

    /// Every record, in the order first seen.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Safeguards that fired on a fault of scenario `scenario`.
    pub fn fired_by(&self, scenario: u8) -> SafeguardSet {
        self.records
            .iter()
            .filter(|r| r.acted && r.scenario() == Some(scenario))
            .map(|r| r.safeguard)
            .collect()
    }

    /// The first evidence of `s` for scenario `scenario`: acted (`true`) or
    /// needed (`false`).
    pub fn evidence(&self, s: Safeguard, acted: bool, scenario: u8) -> Option<Evidence> {
        self.records
            .iter()
            .find(|r| r.safeguard == s && r.acted == acted && r.scenario() == Some(scenario))
            .map(|r| r.first)
    }

    /// Safeguards whose condition a fault of `scenario` met and that did
    /// not act on it (needed).
    pub fn needed_by(&self, scenario: u8) -> SafeguardSet {
        self.records
            .iter()
            .filter(|r| !r.acted && r.scenario() == Some(scenario))
            .map(|r| r.safeguard)
            .collect()
    }

    /// Merge another log (e.g. of another layer) into this one.
    pub fn merge(&mut self, other: &SafeguardLog) {
        for i in 0..32 {
            self.first[i] = match (self.first[i], other.first[i]) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            self.count[i] = self.count[i].saturating_add(other.count[i]);
        }
        for r in &other.records {
            self.record(r.safeguard, r.acted, r.first, r.count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for &s in Safeguard::ALL {
            assert_eq!(Safeguard::from_name(s.name()), Some(s));
        }
        let mut names: Vec<_> = Safeguard::ALL.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Safeguard::ALL.len());
    }

    #[test]
    fn spec_edits_the_default_set() {
        let default = SafeguardSet::EMPTY
            .with(Safeguard::RateLimiter)
            .with(Safeguard::HeartbeatWatchdog);
        let s = SafeguardSet::from_spec("-rate_limiter,+acl_violation_monitor", default).unwrap();
        assert!(!s.contains(Safeguard::RateLimiter));
        assert!(s.contains(Safeguard::AclViolationMonitor));
        assert!(s.contains(Safeguard::HeartbeatWatchdog));
        assert_eq!(
            SafeguardSet::from_spec("none", default).unwrap(),
            SafeguardSet::EMPTY
        );
        assert_eq!(
            SafeguardSet::from_spec("all", default).unwrap(),
            SafeguardSet::all()
        );
        assert_eq!(
            SafeguardSet::from_spec("default", default).unwrap(),
            default
        );
        let err = SafeguardSet::from_spec("+rate_limitr", default).unwrap_err();
        assert!(
            err.contains("rate_limitr") && err.contains("rate_limiter"),
            "{err}"
        );
    }

    #[test]
    fn log_keeps_first_time_and_count() {
        let ev = |ns, cause| {
            Evidence::of(
                SimTime::from_nanos(ns),
                Signal::QueueDepth,
                6000,
                5000,
                cause,
            )
        };
        let mut log = SafeguardLog::default();
        log.fire(Safeguard::LoadShedder, ev(5, None));
        log.fire(Safeguard::LoadShedder, ev(9, None));
        assert_eq!(
            log.first_fired(Safeguard::LoadShedder),
            Some(SimTime::from_nanos(5))
        );
        assert_eq!(log.count(Safeguard::LoadShedder), 2);
        assert_eq!(
            log.fired(),
            SafeguardSet::EMPTY.with(Safeguard::LoadShedder)
        );
        let mut other = SafeguardLog::default();
        other.fire(Safeguard::LoadShedder, ev(1, None));
        log.merge(&other);
        assert_eq!(
            log.first_fired(Safeguard::LoadShedder),
            Some(SimTime::from_nanos(1))
        );
        assert_eq!(log.count(Safeguard::LoadShedder), 3);
        assert_eq!(log.records().len(), 1, "one record per safeguard and cause");
    }

    #[test]
    fn credit_follows_the_cause() {
        let ev = |ns, cause| {
            Evidence::of(
                SimTime::from_nanos(ns),
                Signal::QueueDepth,
                6000,
                5000,
                cause,
            )
        };
        let mut log = SafeguardLog::default();
        // Fired for scenario 1's fault 0; needed (not deployed) for scenario 0; uncaused.
        assert!(log.detect(Safeguard::LoadShedder, true, ev(7, Some(Cause::new(1, 0)))));
        assert!(!log.detect(Safeguard::RateLimiter, false, ev(3, Some(Cause::new(0, 2)))));
        log.fire(Safeguard::CircuitBreaker, ev(4, None));
        assert_eq!(
            log.fired_by(1),
            SafeguardSet::EMPTY.with(Safeguard::LoadShedder)
        );
        assert_eq!(log.fired_by(0), SafeguardSet::EMPTY);
        assert_eq!(
            log.needed_by(0),
            SafeguardSet::EMPTY.with(Safeguard::RateLimiter)
        );
        assert_eq!(
            log.count(Safeguard::RateLimiter),
            0,
            "a need is not a firing"
        );
        let e = log.evidence(Safeguard::RateLimiter, false, 0).unwrap();
        assert_eq!(e.cause, Some(Cause::new(0, 2)));
        assert!(log.fired().contains(Safeguard::CircuitBreaker));
        assert!(
            !log.fired_by(0).contains(Safeguard::CircuitBreaker),
            "uncaused: credited to nobody"
        );
    }
}
