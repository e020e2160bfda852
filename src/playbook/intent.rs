//! Intents: what a recovery step (or any request) asks to do, with its
//! autonomy tier and the mission it serves. Plain data shared by the
//! playbooks (each step names an intent) and the governance model that
//! routes them ([`crate::model::governance`], which re-exports both types).

use serde::{Deserialize, Serialize};

/// An intent type, by the names of MISSION.md (snake_case in RON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Change the governance rules (tier 0).
    ModifyGovernance,
    /// Change the charter (tier 0).
    ChangeCharter,
    /// Grant permissions, e.g. to restart a critical kernel by hand (tier 0;
    /// it serves resilience).
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
            | Intent::ExtendGrace
            | Intent::GrantPermissions => Mission::Resilience,
            Intent::DeployModel | Intent::ScheduleTask => Mission::Revenue,
            Intent::ModifyGovernance | Intent::ChangeCharter | Intent::SelfImprove => {
                Mission::Autonomy
            }
            Intent::QueryKnowledge | Intent::GenerateSummary => Mission::Learning,
        }
    }
}
