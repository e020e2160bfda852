//! API-agent playbooks: recovery strategies by error type, as RON data.
//!
//! A playbook maps each [`ErrorKind`] to an [`Action`] and may say how to
//! undo a half-done workflow ([`Compensation`]). The built-in playbook is
//! `playbooks/api_pet_store.ron`, embedded in the binary; another file can
//! be loaded with [`ApiPlaybook::from_ron`].
//!
//! ```ron
//! ApiPlaybook(
//!     name: "api_pet_store",
//!     rules: [
//!         (error: Http503, action: Retry(max_retries: 4,
//!             backoff: (jitter: Full, base_ms: 100, cap_ms: 2000))),
//!         (error: Http429, action: HonourRetryAfter(max_retries: 4,
//!             backoff: (jitter: Equal, base_ms: 200, cap_ms: 4000))),
//!         (error: Timeout, action: RetryThenFailover(retries: 1,
//!             failover_attempts: 2, failover_extra_ms: 40)),
//!         (error: BadRequest, action: Repair(max_retries: 1)),
//!     ],
//!     compensation: Some((max_retries: 4,
//!         backoff: (jitter: Full, base_ms: 100, cap_ms: 2000))),
//! )
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::backoff::Backoff;
use super::proxy::ErrorKind;
use crate::error::{FieldError, Result};

/// The built-in playbook's RON text.
pub const DEFAULT_PLAYBOOK_RON: &str = include_str!("../../playbooks/api_pet_store.ron");
/// The name under which the built-in playbook reports errors.
pub const DEFAULT_PLAYBOOK_PATH: &str = "<embedded>/playbooks/api_pet_store.ron";
/// Largest retry budget of any action.
pub const RETRIES_MAX: u32 = 32;

/// What the agent does about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Give up on the workflow.
    Fail,
    /// Retry the same call after a backoff wait, up to `max_retries` times.
    Retry {
        /// Retries of this call (0..=32).
        max_retries: u32,
        /// The wait before each retry.
        backoff: Backoff,
    },
    /// Wait at least the `Retry-After` the server gave (and at least the
    /// backoff wait), then retry, up to `max_retries` times.
    HonourRetryAfter {
        /// Retries of this call (0..=32).
        max_retries: u32,
        /// The wait when it exceeds Retry-After (and when none is given).
        backoff: Backoff,
    },
    /// Retry at once `retries` times, then fail over to the standby
    /// endpoint for `failover_attempts` more attempts, each slower by
    /// `failover_extra_ms`.
    RetryThenFailover {
        /// Immediate retries on the primary (0..=32).
        retries: u32,
        /// Attempts on the standby (0..=32).
        failover_attempts: u32,
        /// Extra latency of the standby, in milliseconds (0..=60,000).
        failover_extra_ms: u64,
    },
    /// Rebuild the request's parameters from the workflow state and retry,
    /// up to `max_retries` times (for HTTP 400).
    Repair {
        /// Retries with repaired parameters (0..=32).
        max_retries: u32,
    },
}

/// One rule: an error type and the action for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The error this rule handles.
    pub error: ErrorKind,
    /// What to do.
    pub action: Action,
}

/// How to undo a workflow that failed after a side-effecting step: call the
/// compensating operation (cancel the order, refund), retrying with backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compensation {
    /// Retries of the compensating call (0..=32).
    pub max_retries: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
}

/// A playbook for the API agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiPlaybook {
    /// The playbook's name (`api_...`).
    pub name: String,
    /// One rule per error type; an error without a rule fails the workflow.
    pub rules: Vec<Rule>,
    /// How to undo half-done workflows; `None` leaves them inconsistent.
    #[serde(default)]
    pub compensation: Option<Compensation>,
}

impl Default for ApiPlaybook {
    /// The built-in playbook (`playbooks/api_pet_store.ron`).
    fn default() -> Self {
        ApiPlaybook::from_ron(DEFAULT_PLAYBOOK_RON, Path::new(DEFAULT_PLAYBOOK_PATH))
            .expect("the embedded playbook is valid")
    }
}

impl ApiPlaybook {
    /// Parse and validate a playbook; `path` names it in errors.
    pub fn from_ron(text: &str, path: &Path) -> Result<ApiPlaybook> {
        // An empty file says what ron says, as it always has.
        let pb: ApiPlaybook = crate::input::parse_ron_without_empty_check(text, path)?;
        // Named by its displayed path, as before: a path that is not UTF-8
        // then differs from `path`, and `load_with` leaves the error
        // unlocated, as it always has.
        pb.validate()
            .map_err(|e| e.in_file(path.display().to_string()))?;
        Ok(pb)
    }

    /// Read, parse and validate a playbook file.
    pub fn load(path: &Path) -> Result<ApiPlaybook> {
        crate::input::load_with(path, ApiPlaybook::from_ron)
    }

    /// Check names, budgets and that no error type has two rules.
    pub fn validate(&self) -> Result<(), FieldError> {
        let bad = |field: String, message: String| FieldError::new(field, message);
        if self.name.is_empty() || self.name.len() > 64 {
            return Err(bad("name".into(), "must be 1..=64 characters".into()));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let f = format!("rules[{i}]");
            if self.rules[..i].iter().any(|r| r.error == rule.error) {
                return Err(bad(
                    format!("{f}.error"),
                    format!(
                        "{:?} already has a rule; one rule per error type",
                        rule.error
                    ),
                ));
            }
            let check = |n: u32, name: &str| {
                if n > RETRIES_MAX {
                    Err(bad(
                        format!("{f}.action.{name}"),
                        format!("{n} is outside 0..={RETRIES_MAX}"),
                    ))
                } else {
                    Ok(())
                }
            };
            match rule.action {
                Action::Fail => {}
                Action::Retry {
                    max_retries,
                    backoff,
                }
                | Action::HonourRetryAfter {
                    max_retries,
                    backoff,
                } => {
                    check(max_retries, "max_retries")?;
                    backoff
                        .validate()
                        .map_err(|e| e.within(&format!("{f}.action.backoff")))?;
                }
                Action::RetryThenFailover {
                    retries,
                    failover_attempts,
                    failover_extra_ms,
                } => {
                    check(retries, "retries")?;
                    check(failover_attempts, "failover_attempts")?;
                    if failover_extra_ms > 60_000 {
                        return Err(bad(
                            format!("{f}.action.failover_extra_ms"),
                            format!("{failover_extra_ms} is outside 0..=60000"),
                        ));
                    }
                }
                Action::Repair { max_retries } => check(max_retries, "max_retries")?,
            }
        }
        if let Some(c) = &self.compensation {
            if c.max_retries > RETRIES_MAX {
                return Err(bad(
                    "compensation.max_retries".into(),
                    format!("{} is outside 0..={RETRIES_MAX}", c.max_retries),
                ));
            }
            c.backoff
                .validate()
                .map_err(|e| e.within("compensation.backoff"))?;
        }
        Ok(())
    }

    /// The action for an error type ([`Action::Fail`] when no rule).
    pub fn action_for(&self, error: ErrorKind) -> Action {
        self.rules
            .iter()
            .find(|r| r.error == error)
            .map_or(Action::Fail, |r| r.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn embedded_playbook_parses_and_covers_every_error() {
        let pb = ApiPlaybook::default();
        assert!(pb.name.starts_with("api_"));
        for e in [
            ErrorKind::Http503,
            ErrorKind::Http429,
            ErrorKind::Timeout,
            ErrorKind::BadRequest,
        ] {
            assert_ne!(pb.action_for(e), Action::Fail, "{e:?}");
        }
        assert!(pb.compensation.is_some());
    }

    #[test]
    fn duplicate_rules_and_unknown_fields_are_refused() {
        let dup = r#"ApiPlaybook(name: "api_x", rules: [
            (error: Http503, action: Fail), (error: Http503, action: Fail)])"#;
        let e = ApiPlaybook::from_ron(dup, Path::new("x.ron"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rules[1].error"), "{e}");
        let slow = r#"ApiPlaybook(name: "api_x", rules: [(error: Http503,
            action: Retry(max_retries: 1, backoff: (jitter: Full, base_ms: 500, cap_ms: 100)))])"#;
        let e = ApiPlaybook::from_ron(slow, Path::new("z.ron"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("z.ron: rules[0].action.backoff.cap_ms: 100 is outside base_ms..="),
            "{e}"
        );
        let e = ApiPlaybook::from_ron(" ", Path::new("e.ron")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "e.ron:1:1: Expected opening `(` for struct `ApiPlaybook`"
        );
        let unknown = r#"ApiPlaybook(name: "api_x", rules: [], colour: 3)"#;
        let e = ApiPlaybook::from_ron(unknown, Path::new("y.ron")).unwrap_err();
        assert!(matches!(e, Error::Syntax { line: 1, .. }), "{e}");
    }
}
