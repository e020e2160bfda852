//! Layer 3: intent governance. Every intent (including each recovery step of
//! a playbook) is routed by its **autonomy tier**, which decides how long it
//! waits before it may act and how it is logged.
//!
//! | tier | intents | routing |
//! |---|---|---|
//! | 0 | modify_governance, change_charter, grant_permissions | waits for a human approval; the delay depends on the hour of day ([`GovernanceSpec::approval_delay_s_by_hour`]) |
//! | 1 | execute_sandbox, deploy_model, modify_config | executes at once, logged for review |
//! | 2 | query_knowledge, generate_summary, schedule_task | fully autonomous, executes at once |
//! | 3 | self_improve, extend_grace, optimize_system | autonomous after a unified-logic vote ([`GovernanceSpec::vote_ns`]) |
//! | 4 | emergency_recovery, critical_incident | immediate emergency override, heavily logged |
//!
//! Mission alignment: each intent serves one [`Mission`], scored resilience
//! 1.0, revenue 0.8, autonomy 0.7, learning 0.6 (permille in the spec).
//!
//! The API is plain types and functions (no Layer-1 types), so Layer 2 and
//! the programme can route their own intents. Randomness (the approval
//! jitter) comes from the caller's stream.

use serde::{Deserialize, Serialize};

use crate::engine::{RngDraws, SimDuration, SimTime};

/// An intent type, by the names of MISSION.md (snake_case in RON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Change the governance rules (tier 0).
    ModifyGovernance,
    /// Change the charter (tier 0).
    ChangeCharter,
    /// Grant permissions, e.g. to restart a critical kernel by hand (tier 0).
    GrantPermissions,
    /// Run something in the sandbox (tier 1).
    ExecuteSandbox,
    /// Deploy a model (tier 1).
    DeployModel,
    /// Change a configuration: restart, quarantine, throttle (tier 1).
    ModifyConfig,
    /// Read the knowledge base (tier 2).
    QueryKnowledge,
    /// Write a summary (tier 2).
    GenerateSummary,
    /// Schedule a task, e.g. a wait or shed step (tier 2).
    ScheduleTask,
    /// Self-improvement (tier 3).
    SelfImprove,
    /// Extend a grace period (tier 3).
    ExtendGrace,
    /// Optimise the system: isolate a resource hog (tier 3).
    OptimizeSystem,
    /// Emergency recovery of a critical component (tier 4).
    EmergencyRecovery,
    /// Declare a critical incident (tier 4).
    CriticalIncident,
}

/// A mission an intent serves, for the alignment score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mission {
    /// Keep the platform up (score 1.0 by default).
    Resilience,
    /// Serve customers (0.8).
    Revenue,
    /// Act without humans (0.7).
    Autonomy,
    /// Learn (0.6).
    Learning,
}

impl Intent {
    /// Every intent, tier by tier.
    pub const ALL: &'static [Intent] = &[
        Intent::ModifyGovernance,
        Intent::ChangeCharter,
        Intent::GrantPermissions,
        Intent::ExecuteSandbox,
        Intent::DeployModel,
        Intent::ModifyConfig,
        Intent::QueryKnowledge,
        Intent::GenerateSummary,
        Intent::ScheduleTask,
        Intent::SelfImprove,
        Intent::ExtendGrace,
        Intent::OptimizeSystem,
        Intent::EmergencyRecovery,
        Intent::CriticalIncident,
    ];

    /// The autonomy tier, 0..=4 (the routing table of MISSION.md).
    pub const fn tier(self) -> u8 {
        match self {
            Intent::ModifyGovernance | Intent::ChangeCharter | Intent::GrantPermissions => 0,
            Intent::ExecuteSandbox | Intent::DeployModel | Intent::ModifyConfig => 1,
            Intent::QueryKnowledge | Intent::GenerateSummary | Intent::ScheduleTask => 2,
            Intent::SelfImprove | Intent::ExtendGrace | Intent::OptimizeSystem => 3,
            Intent::EmergencyRecovery | Intent::CriticalIncident => 4,
        }
    }

    /// The stable snake_case name (`"emergency_recovery"`).
    pub const fn name(self) -> &'static str {
        match self {
            Intent::ModifyGovernance => "modify_governance",
            Intent::ChangeCharter => "change_charter",
            Intent::GrantPermissions => "grant_permissions",
            Intent::ExecuteSandbox => "execute_sandbox",
            Intent::DeployModel => "deploy_model",
            Intent::ModifyConfig => "modify_config",
            Intent::QueryKnowledge => "query_knowledge",
            Intent::GenerateSummary => "generate_summary",
            Intent::ScheduleTask => "schedule_task",
            Intent::SelfImprove => "self_improve",
            Intent::ExtendGrace => "extend_grace",
            Intent::OptimizeSystem => "optimize_system",
            Intent::EmergencyRecovery => "emergency_recovery",
            Intent::CriticalIncident => "critical_incident",
        }
    }

    /// The mission the intent serves.
    pub const fn mission(self) -> Mission {
        match self {
            Intent::EmergencyRecovery
            | Intent::CriticalIncident
            | Intent::ModifyConfig
            | Intent::ExecuteSandbox
            | Intent::OptimizeSystem
            | Intent::ExtendGrace => Mission::Resilience,
            Intent::DeployModel | Intent::ScheduleTask => Mission::Revenue,
            Intent::ModifyGovernance
            | Intent::ChangeCharter
            | Intent::GrantPermissions
            | Intent::SelfImprove => Mission::Autonomy,
            Intent::QueryKnowledge | Intent::GenerateSummary => Mission::Learning,
        }
    }
}

/// Parameters of the governance router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernanceSpec {
    /// Median delay of a human approval (tier 0), in seconds, for each hour
    /// of the day 0..=23 (24 entries). Default: 30 min at night (00-06), 15
    /// min at 07, 5 min in office hours (08-18), 10 min in the evening
    /// (19-22), 20 min at 23.
    pub approval_delay_s_by_hour: Vec<u64>,
    /// Jitter of an approval delay, permille of the median: the delay is
    /// uniform in `median * [1 - j, 1 + j]`. 0..=1000.
    pub approval_jitter_permille: u16,
    /// Delay of a unified-logic vote (tier 3), nanoseconds.
    pub vote_ns: u64,
    /// Mission-alignment scores in permille: resilience, revenue, autonomy,
    /// learning (default 1000, 800, 700, 600).
    pub alignment_permille: [u16; 4],
    /// Time the on-call human spends triaging each intent of a governance
    /// storm before getting to real approvals (approvals queue behind it).
    #[serde(default = "default_triage_ms_per_intent")]
    pub triage_ms_per_intent: u64,
}

fn default_triage_ms_per_intent() -> u64 {
    3_000
}

impl Default for GovernanceSpec {
    fn default() -> Self {
        let mut by_hour = vec![0u64; 24];
        for (h, d) in by_hour.iter_mut().enumerate() {
            *d = match h {
                0..=6 => 1_800,
                7 => 900,
                8..=18 => 300,
                19..=22 => 600,
                _ => 1_200,
            };
        }
        GovernanceSpec {
            approval_delay_s_by_hour: by_hour,
            approval_jitter_permille: 500,
            vote_ns: 2_000_000_000,
            alignment_permille: [1000, 800, 700, 600],
            triage_ms_per_intent: default_triage_ms_per_intent(),
        }
    }
}

impl GovernanceSpec {
    /// Check the parameters; the error reads `field: message (allowed ...)`.
    pub fn validate(&self) -> Result<(), String> {
        if self.approval_delay_s_by_hour.len() != 24 {
            return Err(format!(
                "approval_delay_s_by_hour: {} entries (allowed exactly 24, one per hour)",
                self.approval_delay_s_by_hour.len()
            ));
        }
        if let Some((h, d)) = self
            .approval_delay_s_by_hour
            .iter()
            .enumerate()
            .find(|(_, d)| **d > 7 * 86_400)
        {
            return Err(format!(
                "approval_delay_s_by_hour[{h}]: {d} s (allowed 0..=604800)"
            ));
        }
        if self.approval_jitter_permille > 1000 {
            return Err(format!(
                "approval_jitter_permille: {} (allowed 0..=1000)",
                self.approval_jitter_permille
            ));
        }
        if self.vote_ns > 3_600_000_000_000 {
            return Err(format!(
                "vote_ns: {} (allowed 0..=3600000000000, one hour)",
                self.vote_ns
            ));
        }
        if let Some(a) = self.alignment_permille.iter().find(|a| **a > 1000) {
            return Err(format!("alignment_permille: {a} (allowed 0..=1000)"));
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
}

impl Governance {
    /// A router with `spec` (validate it first).
    pub fn new(spec: GovernanceSpec) -> Governance {
        Governance {
            spec,
            stats: GovernanceStats::default(),
            backlog_until: SimTime::ZERO,
        }
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
        let work = SimDuration::from_millis(self.spec.triage_ms_per_intent)
            .saturating_mul(u64::from(intents));
        let from = self.backlog_until.max(now);
        self.backlog_until = from.checked_add(work).unwrap_or(SimTime::MAX);
    }

    /// How long a tier-0 approval requested at `now` would queue before a
    /// human looks at it.
    pub fn backlog(&self, now: SimTime) -> SimDuration {
        self.backlog_until.saturating_duration_since(now)
    }

    /// Route `intent` issued at `now`. Tier 0 draws its approval delay from
    /// `rng` (one draw); other tiers draw nothing.
    pub fn route<R: RngDraws>(&mut self, intent: Intent, now: SimTime, rng: &mut R) -> Routing {
        let tier = intent.tier();
        self.stats.routed_by_tier[tier as usize] += 1;
        let mut routing = Routing {
            intent,
            tier,
            delay: SimDuration::ZERO,
            review: false,
            heavy_log: false,
            alignment_permille: self.spec.alignment_permille(intent),
        };
        match tier {
            0 => {
                // A human approval waits behind any storm backlog first.
                let queued = self.backlog_until.saturating_duration_since(now);
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
                routing.delay = SimDuration::from_nanos(self.spec.vote_ns);
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
