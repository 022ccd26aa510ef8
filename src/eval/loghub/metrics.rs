//! Grouping and parsing accuracy of a template miner against a ground truth, as defined by the
//! Loghub benchmarks (Zhu et al. ICSE-SEIP'19 for GA, Dai et al. for PA, Khan et al. ICSE'22 and
//! Jiang et al. ISSTA'24 for FGA and FTA). Written from the published definitions.
//!
//! A *group* is a set of lines: ground-truth groups share an `EventId`, predicted groups share a
//! template id. A predicted group is *correct* when its set of lines equals the set of lines of a
//! ground-truth group.
//!
//! - GA: lines in correct predicted groups / all lines.
//! - FGA: F1 of precision (correct groups / predicted groups) and recall (correct groups /
//!   ground-truth groups).
//! - PA: lines whose predicted template text equals their ground-truth template text, both
//!   normalised by [`normalize_template`].
//! - FTA: F1 of precision (correct templates / predicted groups) and recall (correct templates /
//!   ground-truth groups), where a predicted group's template is correct when the group is correct
//!   and its normalised template text equals the ground-truth group's. Each predicted group counts
//!   as one identified template.

use std::collections::HashMap;
use std::hash::Hash;

/// The four figures for one log.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    pub ga: f64,
    pub fga: f64,
    pub pa: f64,
    pub fta: f64,
}

/// One line: its ground-truth group and template, its predicted group and template.
#[derive(Debug, Clone)]
pub struct Labelled<P> {
    pub truth_group: String,
    pub truth_template: String,
    pub predicted_group: P,
    pub predicted_template: String,
}

/// The normalisation applied to both sides before template texts are compared: whitespace runs
/// become one space, leading and trailing whitespace is dropped, and adjacent variables with
/// nothing between them (`<*><*>`) become one `<*>` (loghub-2.0 does the same). Nothing else:
/// `<*> <*>` stays two variables and the text around variables must match exactly.
pub fn normalize_template(text: &str) -> String {
    let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
    while out.contains("<*><*>") {
        out = out.replace("<*><*>", "<*>");
    }
    out
}

fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 }
}

/// Scores one log. Empty input scores zero everywhere.
pub fn score<P: Eq + Hash + Clone>(lines: &[Labelled<P>]) -> Scores {
    if lines.is_empty() {
        return Scores::default();
    }
    let mut truth: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut predicted: HashMap<&P, Vec<usize>> = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        truth.entry(line.truth_group.as_str()).or_default().push(i);
        predicted.entry(&line.predicted_group).or_default().push(i);
    }
    let mut correct_lines = 0usize;
    let mut correct_groups = 0usize;
    let mut correct_templates = 0usize;
    for members in predicted.values() {
        let first = &lines[members[0]];
        let truth_members = &truth[first.truth_group.as_str()];
        let same_truth = members.iter().all(|&i| lines[i].truth_group == first.truth_group);
        if same_truth && truth_members.len() == members.len() {
            correct_lines += members.len();
            correct_groups += 1;
            if normalize_template(&first.predicted_template) == normalize_template(&first.truth_template) {
                correct_templates += 1;
            }
        }
    }
    let parsed = lines
        .iter()
        .filter(|l| normalize_template(&l.predicted_template) == normalize_template(&l.truth_template))
        .count();
    let n_pred = predicted.len() as f64;
    let n_truth = truth.len() as f64;
    Scores {
        ga: correct_lines as f64 / lines.len() as f64,
        fga: f1(correct_groups as f64 / n_pred, correct_groups as f64 / n_truth),
        pa: parsed as f64 / lines.len() as f64,
        fta: f1(correct_templates as f64 / n_pred, correct_templates as f64 / n_truth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(truth: &str, tt: &str, pred: u32, pt: &str) -> Labelled<u32> {
        Labelled {
            truth_group: truth.into(),
            truth_template: tt.into(),
            predicted_group: pred,
            predicted_template: pt.into(),
        }
    }

    #[test]
    fn perfect_prediction_scores_one() {
        let lines = [line("E1", "a <*>", 7, "a <*>"), line("E1", "a <*>", 7, "a  <*> "), line("E2", "b", 3, "b")];
        assert_eq!(score(&lines), Scores { ga: 1.0, fga: 1.0, pa: 1.0, fta: 1.0 });
    }

    #[test]
    fn a_merged_group_is_wrong_for_all_its_lines() {
        // E1 and E2 predicted as one group; E3 correct but with the wrong template text.
        let lines = [
            line("E1", "x <*>", 1, "<*> <*>"),
            line("E2", "y <*>", 1, "<*> <*>"),
            line("E3", "z <*>", 2, "z 5"),
            line("E3", "z <*>", 2, "z 5"),
        ];
        let s = score(&lines);
        assert_eq!(s.ga, 0.5);
        // precision 1/2, recall 1/3.
        assert!((s.fga - 0.4).abs() < 1e-12);
        assert_eq!(s.pa, 0.0);
        assert_eq!(s.fta, 0.0);
    }

    #[test]
    fn a_split_group_is_wrong_and_templates_need_a_correct_group() {
        let lines = [line("E1", "a <*>", 1, "a <*>"), line("E1", "a <*>", 2, "a <*>"), line("E2", "b", 3, "b")];
        let s = score(&lines);
        assert!((s.ga - 1.0 / 3.0).abs() < 1e-12);
        // Lines of the split group still parse correctly, but their templates do not count for FTA.
        assert_eq!(s.pa, 1.0);
        // 1 correct of 3 predicted, 1 of 2 truth: F1 = 0.4.
        assert!((s.fta - 0.4).abs() < 1e-12);
    }

    #[test]
    fn normalisation_collapses_spaces_and_adjacent_variables_only() {
        assert_eq!(normalize_template("  a   <*><*><*> b\t"), "a <*> b");
        assert_eq!(normalize_template("<*> <*>"), "<*> <*>");
    }
}
