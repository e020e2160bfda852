//! Layer 3: intent governance. Every intent (including each recovery step of
//! a playbook) is routed by its **autonomy tier**, which decides how long it
//! waits before it may act and how it is logged.
//!
//! | tier | intents | routing |
//! |---|---|---|
//! | 0 | modify_governance, change_charter, grant_permissions | waits for a human approval; the delay depends on the hour of day ([`GovernanceSpec::approval_delay_s_by_hour`]: 30 s in office hours, 15 min at night), behind any storm of less-aligned requests |
//! | 1 | execute_sandbox, deploy_model, modify_config | executes at once, logged for review |
//! | 2 | query_knowledge, generate_summary, schedule_task | fully autonomous, executes at once |
//! | 3 | self_improve, extend_grace, optimize_system | autonomous after a unified-logic vote: each voter (a kernel, or a Layer-2 component) answers after [`GovernanceSpec::vote_ns`] scaled by its slowness; the intent passes once `quorum` ballots are in, and is denied if they are not in by `vote_timeout_ns` (voters down or paused never answer) |
//! | 4 | emergency_recovery, critical_incident | immediate emergency override, heavily logged |
//!
//! Mission alignment: each intent serves one [`Mission`], scored resilience
//! 1.0, revenue 0.8, autonomy 0.7, learning 0.6 (permille in the spec). It
//! orders the approval queue: a human triages a governance storm's requests
//! one by one (slower at night, in the proportion of the hour's approval
//! delay), and an approval request waits behind the storm only if the
//! storm's intents are at least as aligned; a more aligned request (a
//! resilience recovery behind a storm of autonomy requests) waits only for
//! the request being triaged.
//!
//! The API is plain types and functions (no Layer-1 types), so Layer 2 and
//! the programme can route their own intents. Randomness (the approval
//! jitter) comes from the caller's stream.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

use crate::engine::{RngDraws, SimDuration, SimTime};

pub use crate::playbook::intent::{Intent, Mission};

/// Parameters of the governance router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceSpec {
    /// Median delay of a human approval (tier 0), in seconds, for each hour
    /// of the day 0..=23 (24 entries). Default: 15 min at night (00-06: the
    /// on-call is paged awake), 5 min at 07 and 23, 30 s in office hours
    /// (08-18: at the desk), 2 min in the evening (19-22).
    pub approval_delay_s_by_hour: Vec<u64>,
    /// Jitter of an approval delay, permille of the median: the delay is
    /// uniform in `median * [1 - j, 1 + j]`. 0..=1000.
    pub approval_jitter_permille: u16,
    /// Time one voter of a unified-logic vote (tier 3) takes to answer at
    /// full speed, nanoseconds (a CPU-starved voter is slower).
    pub vote_ns: u64,
    /// The vote is denied if `quorum` ballots are not in by then, ns.
    #[serde(default = "default_vote_timeout_ns")]
    pub vote_timeout_ns: u64,
    /// Ballots needed to pass a tier-3 intent.
    #[serde(default = "default_quorum")]
    pub quorum: u8,
    /// The kernels that vote on Layer-1 tier-3 intents (the unified logic).
    #[serde(default = "default_voters")]
    pub voters: Vec<String>,
    /// The intent a governance storm's requests are (their alignment
    /// orders them against real approvals).
    #[serde(default = "default_storm_intent")]
    pub storm_intent: Intent,
    /// Mission-alignment scores in permille: resilience, revenue, autonomy,
    /// learning (default 1000, 800, 700, 600).
    pub alignment_permille: [u16; 4],
    /// Time the on-call human spends triaging each intent of a governance
    /// storm in the fastest hour of the day, ms; other hours are slower in
    /// the proportion of their approval delay. Approvals at most as aligned
    /// as the storm's intents queue behind it.
    #[serde(default = "default_triage_ms_per_intent")]
    pub triage_ms_per_intent: u64,
}

fn default_triage_ms_per_intent() -> u64 {
    300
}
fn default_vote_timeout_ns() -> u64 {
    10_000_000_000
}
fn default_quorum() -> u8 {
    3
}
fn default_voters() -> Vec<String> {
    [
        "governance",
        "clarity_framework",
        "verification_framework",
        "meta_loop",
        "learning_integration",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn default_storm_intent() -> Intent {
    Intent::ModifyGovernance
}

impl Default for GovernanceSpec {
    fn default() -> Self {
        let mut by_hour = vec![0u64; 24];
        for (h, d) in by_hour.iter_mut().enumerate() {
            *d = match h {
                0..=6 => 900,
                7 | 23 => 300,
                8..=18 => 30,
                _ => 120,
            };
        }
        GovernanceSpec {
            approval_delay_s_by_hour: by_hour,
            approval_jitter_permille: 500,
            vote_ns: 2_000_000_000,
            vote_timeout_ns: default_vote_timeout_ns(),
            quorum: default_quorum(),
            voters: default_voters(),
            storm_intent: default_storm_intent(),
            alignment_permille: [1000, 800, 700, 600],
            triage_ms_per_intent: default_triage_ms_per_intent(),
        }
    }
}

impl GovernanceSpec {
    /// Check the parameters; the error reads `field: message (allowed ...)`.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.approval_delay_s_by_hour.len() != 24 {
            return Err(FieldError::new(
                "approval_delay_s_by_hour",
                format!(
                    "{} entries (allowed exactly 24, one per hour)",
                    self.approval_delay_s_by_hour.len()
                ),
            ));
        }
        if let Some((h, d)) = self
            .approval_delay_s_by_hour
            .iter()
            .enumerate()
            .find(|(_, d)| **d > 7 * 86_400)
        {
            return Err(FieldError::new(
                format!("approval_delay_s_by_hour[{h}]"),
                format!("{d} s (allowed 0..=604800)"),
            ));
        }
        if self.approval_jitter_permille > 1000 {
            return Err(FieldError::new(
                "approval_jitter_permille",
                format!("{} (allowed 0..=1000)", self.approval_jitter_permille),
            ));
        }
        if self.vote_ns > 3_600_000_000_000 {
            return Err(FieldError::new(
                "vote_ns",
                format!("{} (allowed 0..=3600000000000, one hour)", self.vote_ns),
            ));
        }
        if let Some(a) = self.alignment_permille.iter().find(|a| **a > 1000) {
            return Err(FieldError::new(
                "alignment_permille",
                format!("{a} (allowed 0..=1000)"),
            ));
        }
        if self.vote_timeout_ns == 0 || self.vote_timeout_ns > 3_600_000_000_000 {
            return Err(FieldError::new(
                "vote_timeout_ns",
                format!(
                    "{} (allowed 1..=3600000000000, one hour)",
                    self.vote_timeout_ns
                ),
            ));
        }
        if self.quorum == 0 || self.quorum as usize > self.voters.len().max(1) {
            return Err(FieldError::new(
                "quorum",
                format!(
                    "{} (allowed 1 to the number of voters, {})",
                    self.quorum,
                    self.voters.len()
                ),
            ));
        }
        if self.triage_ms_per_intent > 3_600_000 {
            return Err(FieldError::new(
                "triage_ms_per_intent",
                format!(
                    "{} (allowed 0..=3600000, one hour)",
                    self.triage_ms_per_intent
                ),
            ));
        }
        Ok(())
    }

    /// The mission-alignment score of `intent`, in permille.
    pub fn alignment_permille(&self, intent: Intent) -> u16 {
        self.alignment_permille[intent.mission() as usize]
    }

    /// The median approval delay at instant `now` (by its hour of day).
    pub fn approval_median(&self, now: SimTime) -> SimDuration {
        let h = now.hour_of_day() as usize;
        let s = self.approval_delay_s_by_hour.get(h).copied().unwrap_or(0);
        SimDuration::checked_from_secs(s).unwrap_or(SimDuration::MAX)
    }

    /// How long the human triages one storm request at `now`: the fastest
    /// hour's time, slowed in the proportion of the hour's approval delay.
    pub fn triage_per_intent(&self, now: SimTime) -> SimDuration {
        let fastest = self
            .approval_delay_s_by_hour
            .iter()
            .copied()
            .min()
            .unwrap_or(1)
            .max(1);
        let h = now.hour_of_day() as usize;
        let this = self
            .approval_delay_s_by_hour
            .get(h)
            .copied()
            .unwrap_or(fastest)
            .max(1);
        SimDuration::from_millis(self.triage_ms_per_intent).mul_ratio(this, fastest)
    }
}

/// How an intent was routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing {
    /// The intent.
    pub intent: Intent,
    /// Its tier, 0..=4.
    pub tier: u8,
    /// How long it waits before it may act (approval, vote, or zero).
    pub delay: SimDuration,
    /// Whether it is logged for later human review (tier 1).
    pub review: bool,
    /// Whether it is logged heavily as an emergency override (tier 4).
    pub heavy_log: bool,
    /// Its mission-alignment score, permille.
    pub alignment_permille: u16,
    /// A tier-3 vote failed (no quorum by the timeout): the intent is denied
    /// and must not act (known after `delay`).
    pub denied: bool,
    /// Ballots cast in a tier-3 vote.
    pub ballots: u8,
}

/// Counters of the router. Fixed size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GovernanceStats {
    /// Intents routed, by tier.
    pub routed_by_tier: [u64; 5],
    /// Human approvals waited for (tier 0).
    pub approvals_waited: u64,
    /// Total time spent waiting for human approvals, ns.
    pub approval_wait_ns_total: u64,
    /// Unified-logic votes held (tier 3).
    pub votes: u64,
    /// Votes denied for want of a quorum by the timeout.
    pub votes_failed: u64,
    /// Intents logged for review (tier 1).
    pub review_log_entries: u64,
    /// Emergency overrides logged heavily (tier 4).
    pub emergency_overrides: u64,
    /// Intents received in governance storms (each triaged by the human).
    pub storm_intents: u64,
}

/// The governance router: routes intents and counts what it did.
#[derive(Clone, Debug)]
pub struct Governance {
    spec: GovernanceSpec,
    stats: GovernanceStats,
    /// Until when the on-call human is busy triaging storm intents.
    backlog_until: SimTime,
    /// How long the human takes per storm request (set at the storm).
    triage: SimDuration,
}

impl Governance {
    /// A router with `spec` (validate it first).
    pub fn new(spec: GovernanceSpec) -> Governance {
        Governance {
            spec,
            stats: GovernanceStats::default(),
            backlog_until: SimTime::ZERO,
            triage: SimDuration::ZERO,
        }
    }

    /// Fold the router's whole state into `h` (self-check fingerprints).
    pub fn fingerprint(&self, h: &mut crate::engine::Fingerprint) {
        let s = &self.stats;
        h.time(self.backlog_until).u64(self.triage.as_nanos());
        for t in s.routed_by_tier {
            h.u64(t);
        }
        h.u64(s.approvals_waited)
            .u64(s.approval_wait_ns_total)
            .u64(s.votes)
            .u64(s.votes_failed)
            .u64(s.review_log_entries)
            .u64(s.emergency_overrides)
            .u64(s.storm_intents);
    }

    /// The parameters.
    pub fn spec(&self) -> &GovernanceSpec {
        &self.spec
    }

    /// The counters.
    pub fn stats(&self) -> &GovernanceStats {
        &self.stats
    }

    /// A governance storm: `intents` tier-0 requests land at `now`; the
    /// on-call human triages them one by one (`triage_ms_per_intent` each),
    /// and real approvals requested meanwhile queue behind them.
    pub fn storm(&mut self, intents: u32, now: SimTime) {
        self.stats.storm_intents += u64::from(intents);
        self.triage = self.spec.triage_per_intent(now);
        let work = self.triage.saturating_mul(u64::from(intents));
        let from = self.backlog_until.max(now);
        self.backlog_until = from.checked_add(work).unwrap_or(SimTime::MAX);
    }

    /// How long a tier-0 approval requested at `now` would queue before a
    /// human looks at it.
    pub fn backlog(&self, now: SimTime) -> SimDuration {
        self.backlog_until.saturating_duration_since(now)
    }

    /// Route `intent` issued at `now`. Tier 0 draws its approval delay from
    /// `rng` (one draw); other tiers draw nothing. `ballots` are the voters
    /// of a tier-3 vote: how long each takes to answer, `None` for a voter
    /// that cannot (down, paused); other tiers ignore them.
    pub fn route<R: RngDraws>(
        &mut self,
        intent: Intent,
        now: SimTime,
        rng: &mut R,
        ballots: &[Option<SimDuration>],
    ) -> Routing {
        let tier = intent.tier();
        self.stats.routed_by_tier[tier as usize] += 1;
        let mut routing = Routing {
            intent,
            tier,
            delay: SimDuration::ZERO,
            review: false,
            heavy_log: false,
            alignment_permille: self.spec.alignment_permille(intent),
            denied: false,
            ballots: 0,
        };
        match tier {
            0 => {
                // A human approval waits behind the storm's requests that
                // are at least as aligned; a more aligned one only for the
                // request being triaged.
                let storm = self.backlog_until.saturating_duration_since(now);
                let storm_alignment = self.spec.alignment_permille(self.spec.storm_intent);
                let queued = if routing.alignment_permille > storm_alignment {
                    storm.min(self.triage)
                } else {
                    storm
                };
                let delay = queued + approval_delay(&self.spec, now, rng);
                self.stats.approvals_waited += 1;
                self.stats.approval_wait_ns_total = self
                    .stats
                    .approval_wait_ns_total
                    .saturating_add(delay.as_nanos());
                routing.delay = delay;
            }
            1 => {
                self.stats.review_log_entries += 1;
                routing.review = true;
            }
            2 => {}
            3 => {
                self.stats.votes += 1;
                let timeout = SimDuration::from_nanos(self.spec.vote_timeout_ns);
                let mut answers: Vec<SimDuration> = ballots
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|d| *d <= timeout)
                    .collect();
                answers.sort_unstable();
                routing.ballots = answers.len().min(u8::MAX as usize) as u8;
                match answers.get(self.spec.quorum.max(1) as usize - 1) {
                    Some(&d) => routing.delay = d,
                    None => {
                        self.stats.votes_failed += 1;
                        routing.denied = true;
                        routing.delay = timeout;
                    }
                }
            }
            _ => {
                self.stats.emergency_overrides += 1;
                routing.heavy_log = true;
            }
        }
        routing
    }
}

/// The delay of a human approval requested at `now`: the hour's median with
/// a uniform jitter of `approval_jitter_permille` (one draw from `rng`).
pub fn approval_delay<R: RngDraws>(
    spec: &GovernanceSpec,
    now: SimTime,
    rng: &mut R,
) -> SimDuration {
    let median = spec.approval_median(now);
    let j = u64::from(spec.approval_jitter_permille.min(1000));
    // factor in [1000 - j, 1000 + j] permille, uniform over integers.
    let factor = 1000 - j + rng.below(2 * j + 1);
    median.mul_ratio(factor, 1000)
}
