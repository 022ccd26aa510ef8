//! The consensus rule: weighted voting with a quorum, learned role weights, vetoes, and an
//! explicit `no_consensus`.
//!
//! ```text
//! agents i = 1..5, each with weight wᵢ (learned, see `weights`), action aᵢ, confidence cᵢ
//! V          = every action some agent vetoed (only the Security Guardian vetoes)
//! P          = agents that did not abstain                 participation = Σ_{i∈P} wᵢ / Σ_i wᵢ
//! B          = agents of P whose action is not in V        (their ballots count)
//! S(a)       = Σ_{i∈B, aᵢ=a} wᵢ·cᵢ                         T = Σ_{i∈B} wᵢ·cᵢ
//! 1. participation < quorum                    → no_consensus (no quorum)
//! 2. B empty or T = 0                          → no_consensus (every proposal vetoed)
//! 3. a* = argmax S(a); ties go to the more cautious action (Action::caution_rank)
//! 4. support = S(a*) / T ≤ majority            → no_consensus (split vote)
//! 5. otherwise agreed on a*, with confidence = S(a*) / Σ_{i∈B} wᵢ
//!    (the ballots' weighted mean confidence, dissenters counting 0)
//! ```
//! Defaults: quorum 0.4 (two of five equal weights), majority 0.5 (a strict weighted majority).
//! A vetoed voter still counts towards the quorum: it took part, its ballot was struck.

use crate::decision::{Action, Decision, Role, Veto};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rule's two knobs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Least share of the total weight that must vote (not abstain).
    pub quorum: f64,
    /// The winner's share of the counted weighted confidence must exceed this.
    pub majority: f64,
}

impl Default for Rule {
    fn default() -> Self {
        Self { quorum: 0.4, majority: 0.5 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consensus {
    Agreed,
    NoConsensus,
}

/// Why there was no consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoConsensus {
    NoQuorum,
    AllVetoed,
    SplitVote,
}

/// One action's line in the tally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub action: Action,
    /// Σ wᵢ·cᵢ of its voters (0 if vetoed: struck ballots do not count).
    pub score: f64,
    pub voters: Vec<Role>,
    pub vetoed: bool,
}

/// The council's verdict (stored as the plan's `consensus_decision`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsensusDecision {
    pub consensus: Consensus,
    pub confidence: f64,
    /// The agreed action; with `no_consensus`, the leading one (or `no_action`), not carried out.
    pub primary_recommendation: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_consensus: Option<NoConsensus>,
    /// One sentence: why.
    pub reason: String,
    pub support: f64,
    pub participation: f64,
    pub rule: Rule,
    pub weights: BTreeMap<Role, f64>,
    /// Best first.
    pub tally: Vec<Tally>,
    pub vetoes: Vec<Veto>,
}

/// Applies the rule. `weights` missing a role count as 1.
pub fn decide(decisions: &[Decision], weights: &BTreeMap<Role, f64>, rule: Rule) -> ConsensusDecision {
    let w = |r: Role| weights.get(&r).copied().unwrap_or(1.0).max(0.0);
    let vetoes: Vec<Veto> = decisions.iter().flat_map(|d| d.vetoes.iter().cloned()).collect();
    let vetoed = |a: Action| vetoes.iter().any(|v| v.action == a);
    let total: f64 = decisions.iter().map(|d| w(d.role)).sum();
    let voting: Vec<&Decision> = decisions.iter().filter(|d| d.action != Action::Abstain).collect();
    let participation = if total > 0.0 { voting.iter().map(|d| w(d.role)).sum::<f64>() / total } else { 0.0 };
    let ballots: Vec<&Decision> = voting.iter().copied().filter(|d| !vetoed(d.action)).collect();
    let ballot_weight: f64 = ballots.iter().map(|d| w(d.role)).sum();
    let mut tally: BTreeMap<Action, Tally> = BTreeMap::new();
    for d in &voting {
        let t = tally.entry(d.action).or_insert(Tally {
            action: d.action,
            score: 0.0,
            voters: Vec::new(),
            vetoed: vetoed(d.action),
        });
        t.voters.push(d.role);
        if !t.vetoed {
            t.score += w(d.role) * d.confidence;
        }
    }
    let mut tally: Vec<Tally> = tally.into_values().collect();
    tally.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.vetoed.cmp(&b.vetoed))
            .then(a.action.caution_rank().cmp(&b.action.caution_rank()))
    });
    let t: f64 = tally.iter().map(|x| x.score).sum();
    let leader = tally.first().filter(|x| !x.vetoed && x.score > 0.0);
    let support = leader.map_or(0.0, |x| if t > 0.0 { x.score / t } else { 0.0 });
    let confidence = leader.map_or(0.0, |x| if ballot_weight > 0.0 { x.score / ballot_weight } else { 0.0 });
    let weights: BTreeMap<Role, f64> = decisions.iter().map(|d| (d.role, w(d.role))).collect();
    let verdict = |consensus, no_consensus, primary: Action, reason: String| ConsensusDecision {
        consensus,
        confidence,
        primary_recommendation: primary,
        no_consensus,
        reason,
        support,
        participation,
        rule,
        weights: weights.clone(),
        tally: tally.clone(),
        vetoes: vetoes.clone(),
    };
    let leading = leader.map_or(Action::NoAction, |x| x.action);
    if participation < rule.quorum {
        return verdict(
            Consensus::NoConsensus,
            Some(NoConsensus::NoQuorum),
            leading,
            format!(
                "only {:.0}% of the council's weight voted; the quorum is {:.0}%",
                participation * 100.0,
                rule.quorum * 100.0
            ),
        );
    }
    let Some(winner) = leader else {
        return verdict(
            Consensus::NoConsensus,
            Some(NoConsensus::AllVetoed),
            Action::NoAction,
            "every proposal was vetoed".to_owned(),
        );
    };
    if support <= rule.majority {
        return verdict(
            Consensus::NoConsensus,
            Some(NoConsensus::SplitVote),
            leading,
            format!(
                "split vote: {} leads with {:.0}% of the weighted confidence, a majority needs over {:.0}%",
                winner.action,
                support * 100.0,
                rule.majority * 100.0
            ),
        );
    }
    let struck = if vetoes.is_empty() {
        String::new()
    } else {
        let mut names: Vec<&str> = vetoes.iter().map(|v| v.action.label()).collect();
        names.dedup();
        format!("; vetoed: {}", names.join(", "))
    };
    verdict(
        Consensus::Agreed,
        None,
        winner.action,
        format!(
            "{} carries {:.0}% of the weighted confidence ({} of {} voting){struck}",
            winner.action,
            support * 100.0,
            winner.voters.len(),
            voting.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    //! Every expected value below is worked out by hand from the rule in the module's doc.
    use super::*;
    use crate::decision::Decision;
    use Action::*;
    use Role::*;

    fn d(role: Role, action: Action, confidence: f64) -> Decision {
        Decision::new(role, action, confidence, "test")
    }

    fn equal() -> BTreeMap<Role, f64> {
        BTreeMap::new()
    }

    struct Case {
        name: &'static str,
        decisions: Vec<Decision>,
        weights: BTreeMap<Role, f64>,
        consensus: Consensus,
        why: Option<NoConsensus>,
        primary: Action,
        confidence: f64,
        support: f64,
        participation: f64,
    }

    #[test]
    fn the_rule_table() {
        let learned: BTreeMap<Role, f64> =
            [(BuildOptimizer, 1.8), (PerformanceAnalyst, 0.4), (InfrastructureManager, 1.0)].into_iter().collect();
        let cases = vec![
            Case {
                // all five at 0.8: S = 5 × 0.8 = 4, T = 4, support 1, confidence 4 / 5 = 0.8.
                name: "unanimous",
                decisions: Role::ALL.iter().map(|&r| d(r, RerunFailedJobs, 0.8)).collect(),
                weights: equal(),
                consensus: Consensus::Agreed,
                why: None,
                primary: RerunFailedJobs,
                confidence: 0.8,
                support: 1.0,
                participation: 1.0,
            },
            Case {
                // rerun: 0.9 + 0.6 = 1.5; open_issue: 0.8; hold: 0.7; T = 3.0; support 0.5 → not over
                // the majority; the leader is reported.
                name: "split vote",
                decisions: vec![
                    d(BuildOptimizer, RerunFailedJobs, 0.9),
                    d(InfrastructureManager, RerunFailedJobs, 0.6),
                    d(PerformanceAnalyst, OpenIssue, 0.8),
                    d(ReleaseStrategist, HoldRelease, 0.7),
                    d(SecurityGuardian, Abstain, 0.0),
                ],
                weights: equal(),
                consensus: Consensus::NoConsensus,
                why: Some(NoConsensus::SplitVote),
                primary: RerunFailedJobs,
                confidence: 1.5 / 4.0,
                support: 0.5,
                participation: 0.8,
            },
            Case {
                // rerun (0.9 + 0.55) is vetoed; ballots: guardian no_action 0.9 alone: S = 0.9,
                // T = 0.9, support 1; participation 3/5; confidence 0.9 / 1.
                name: "veto",
                decisions: vec![
                    d(BuildOptimizer, RerunFailedJobs, 0.9),
                    d(SecurityGuardian, NoAction, 0.9).veto(RerunFailedJobs, "pull_request_target"),
                    d(PerformanceAnalyst, Abstain, 0.0),
                    d(ReleaseStrategist, Abstain, 0.0),
                    d(InfrastructureManager, RerunFailedJobs, 0.55),
                ],
                weights: equal(),
                consensus: Consensus::Agreed,
                why: None,
                primary: NoAction,
                confidence: 0.9,
                support: 1.0,
                participation: 0.6,
            },
            Case {
                // every vote vetoed: nothing counts.
                name: "veto of the only proposal",
                decisions: vec![
                    d(BuildOptimizer, PromoteRelease, 0.9),
                    d(ReleaseStrategist, PromoteRelease, 0.7),
                    d(SecurityGuardian, Abstain, 0.0).veto(PromoteRelease, "the gate failed"),
                ],
                weights: equal(),
                consensus: Consensus::NoConsensus,
                why: Some(NoConsensus::AllVetoed),
                primary: NoAction,
                confidence: 0.0,
                support: 0.0,
                participation: 2.0 / 3.0,
            },
            Case {
                // one voter of five: participation 0.2 < 0.4.
                name: "no quorum",
                decisions: vec![
                    d(BuildOptimizer, TuneCache, 0.5),
                    d(SecurityGuardian, Abstain, 0.0),
                    d(PerformanceAnalyst, Abstain, 0.0),
                    d(ReleaseStrategist, Abstain, 0.0),
                    d(InfrastructureManager, Abstain, 0.0),
                ],
                weights: equal(),
                consensus: Consensus::NoConsensus,
                why: Some(NoConsensus::NoQuorum),
                primary: TuneCache,
                confidence: 0.5,
                support: 1.0,
                participation: 0.2,
            },
            Case {
                // equal weights: investigate 0.8 vs rerun 0.6 → a split (support 0.8/1.4 = 0.571 wins).
                // Learned: rerun 1.8 × 0.6 = 1.08, investigate 0.4 × 0.8 = 0.32, T = 1.40,
                // support 1.08 / 1.40 = 0.771; confidence 1.08 / (1.8 + 0.4) = 0.491;
                // participation (1.8 + 0.4) / (1.8 + 0.4 + 1.0) = 0.6875.
                name: "learned weights",
                decisions: vec![
                    d(BuildOptimizer, RerunFailedJobs, 0.6),
                    d(PerformanceAnalyst, InvestigateRegression, 0.8),
                    d(InfrastructureManager, Abstain, 0.0),
                ],
                weights: learned,
                consensus: Consensus::Agreed,
                why: None,
                primary: RerunFailedJobs,
                confidence: 1.08 / 2.2,
                support: 1.08 / 1.4,
                participation: 2.2 / 3.2,
            },
            Case {
                // the same ballots with equal weights: investigate 0.8 / 1.4 = 0.571 > 0.5, so the
                // learned weights above are what turned the outcome.
                name: "same ballots, equal weights",
                decisions: vec![
                    d(BuildOptimizer, RerunFailedJobs, 0.6),
                    d(PerformanceAnalyst, InvestigateRegression, 0.8),
                    d(InfrastructureManager, Abstain, 0.0),
                ],
                weights: equal(),
                consensus: Consensus::Agreed,
                why: None,
                primary: InvestigateRegression,
                confidence: 0.4,
                support: 0.8 / 1.4,
                participation: 2.0 / 3.0,
            },
            Case {
                // a tie (0.7 each) goes to the more cautious action, and a tie is no majority.
                name: "tie",
                decisions: vec![d(BuildOptimizer, RerunFailedJobs, 0.7), d(ReleaseStrategist, HoldRelease, 0.7)],
                weights: equal(),
                consensus: Consensus::NoConsensus,
                why: Some(NoConsensus::SplitVote),
                primary: HoldRelease,
                confidence: 0.35,
                support: 0.5,
                participation: 1.0,
            },
        ];
        for c in cases {
            let v = decide(&c.decisions, &c.weights, Rule::default());
            let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
            assert_eq!(v.consensus, c.consensus, "{}: {v:#?}", c.name);
            assert_eq!(v.no_consensus, c.why, "{}", c.name);
            assert_eq!(v.primary_recommendation, c.primary, "{}", c.name);
            assert!(close(v.confidence, c.confidence), "{}: confidence {} != {}", c.name, v.confidence, c.confidence);
            assert!(close(v.support, c.support), "{}: support {} != {}", c.name, v.support, c.support);
            assert!(
                close(v.participation, c.participation),
                "{}: participation {} != {}",
                c.name,
                v.participation,
                c.participation
            );
        }
    }

    #[test]
    fn weights_learned_from_outcomes_change_the_vote() {
        use crate::weights::Records;
        // Four outcomes where the Build Optimizer's rerun worked and the Performance Analyst
        // voted otherwise: BO right 4 → w = 2 × 5 / 6; PA wrong 4 → w = 2 × 1 / 6.
        let mut records = Records::default();
        let past = vec![d(BuildOptimizer, RerunFailedJobs, 0.6), d(PerformanceAnalyst, InvestigateRegression, 0.8)];
        for _ in 0..4 {
            records.learn(&past, RerunFailedJobs, true);
        }
        let w = records.weights(1.0);
        assert!((w[&BuildOptimizer] - 10.0 / 6.0).abs() < 1e-12);
        assert!((w[&PerformanceAnalyst] - 2.0 / 6.0).abs() < 1e-12);
        assert!((w[&SecurityGuardian] - 1.0).abs() < 1e-12, "no record, weight 1");
        let before = decide(&past, &BTreeMap::new(), Rule::default());
        let after = decide(&past, &w, Rule::default());
        assert_eq!(before.primary_recommendation, InvestigateRegression);
        assert_eq!(after.primary_recommendation, RerunFailedJobs);
        // A failed rerun counts against its backers and for its opponents.
        let mut r = Records::default();
        r.learn(&past, RerunFailedJobs, false);
        assert_eq!(r.roles[&BuildOptimizer].wrong, 1.0);
        assert_eq!(r.roles[&PerformanceAnalyst].right, 1.0);
    }
}
