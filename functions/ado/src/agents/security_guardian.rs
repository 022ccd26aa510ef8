//! Security Guardian: the only agent that vetoes. Its vetoes strike an action from the ballot
//! whatever its support, and no language model can lift them.
//!
//! ```text
//! run triggered by pull_request_target, or from a fork → veto rerun_failed_jobs and
//!     clear_caches_then_rerun (untrusted code with the base repository's secrets); vote no_action 0.9
//! the latest gate verdict failed                        → veto promote_release; vote hold_release 0.95
//! a diagnosed security failure (vulnerable dependency)  → veto promote_release; vote hold_release 0.85
//! promote_release asked for with no gate verdict        → vote hold_release 0.6 (no veto: no evidence either way)
//! a permission failure                                  → open_issue 0.7 (a rerun cannot grant a permission)
//! otherwise                                             → abstain
//! ```

use super::{Agent, cite_diagnosis, cite_gate, cite_run};
use crate::decision::{Action, Cite, Decision, Role};
use crate::evidence::Evidence;
use aetherveil_logscan::Cause;

pub struct SecurityGuardian;

impl Agent for SecurityGuardian {
    fn role(&self) -> Role {
        Role::SecurityGuardian
    }

    fn decide(&self, e: &Evidence) -> Decision {
        let role = self.role();
        let mut vetoes: Vec<(Action, String)> = Vec::new();
        let mut vote: Option<(Action, f64, String)> = None;
        let mut cites: Vec<Cite> = Vec::new();
        if let Some(run) = e.run.as_ref().filter(|r| r.untrusted()) {
            let why = if run.event == "pull_request_target" {
                "a pull_request_target run executes with the base repository's secrets and write token"
            } else {
                "a fork's run executes code nobody in the repository reviewed yet"
            };
            for action in [Action::RerunFailedJobs, Action::ClearCachesThenRerun] {
                vetoes.push((action, format!("{why}: never rerun automatically")));
            }
            vote = Some((
                Action::NoAction,
                0.9,
                format!("{why}; a maintainer reruns it by hand after reading the change"),
            ));
            cites.extend(cite_run(e));
        }
        let security_failures: Vec<_> = e.diagnoses.iter().filter(|d| d.cause == Cause::Security).collect();
        if let Some(gate) = e.gate.as_ref().filter(|g| !g.passed) {
            vetoes.push((Action::PromoteRelease, "a deploy past a failed security gate".to_owned()));
            vote =
                Some((Action::HoldRelease, 0.95, "the security gate failed: nothing ships until it passes".to_owned()));
            cites.push(cite_gate(gate));
        } else if !security_failures.is_empty() {
            vetoes.push((Action::PromoteRelease, "the build's own security check failed".to_owned()));
            vote = Some((Action::HoldRelease, 0.85, "a security check failed in the pipeline".to_owned()));
            cites.extend(security_failures.iter().map(|d| cite_diagnosis(d)));
        } else if e.proposed == Some(Action::PromoteRelease) && e.gate.is_none() {
            vote =
                Some((Action::HoldRelease, 0.6, "a promotion was asked for with no gate verdict on record".to_owned()));
        }
        if vote.is_none() {
            let permission: Vec<_> = e.diagnoses.iter().filter(|d| d.cause == Cause::Permission).collect();
            if !permission.is_empty() {
                vote = Some((
                    Action::OpenIssue,
                    0.7,
                    "a token or credential lacks a permission: a rerun cannot grant it, a person must".to_owned(),
                ));
                cites.extend(permission.iter().map(|d| cite_diagnosis(d)));
            }
        }
        let mut decision = match vote {
            Some((action, confidence, why)) => Decision::new(role, action, confidence, why),
            None => Decision::abstain(role, "no security concern in the evidence"),
        };
        decision = decision.cite(cites);
        for (action, why) in vetoes {
            decision = decision.veto(action, why);
        }
        decision
    }
}
