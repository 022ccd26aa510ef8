//! The NAB scorer, written from the published algorithm (Lavin & Ahmad 2015, "Evaluating Real-time
//! Anomaly Detection Algorithms — the Numenta Anomaly Benchmark", and the NAB wiki).
//!
//! For one data file of `n` rows with labelled anomaly windows (inclusive row ranges):
//!
//! - **Probationary period**: the first `min(floor(0.15 n), 750)` rows are the detector's learning
//!   time; detections there are ignored, and a window lying wholly inside it is not scored.
//! - **Weight of a detection at row `i`** (NAB's `S(t)`), with `σ(x) = 1 / (1 + e^-x)` and the scaled
//!   sigmoid `s(y) = 2σ(-5y) - 1` (`-1` when `y > 3`):
//!   - inside a window `[l, r]` of width `w = r - l + 1`: `y = -(r - i + 1) / w`, from `-1` at the
//!     window's start to nearly `0` at its end; the weight is `A_TP · s(y) / s(-1)`, so a detection at
//!     the window's start earns exactly `A_TP` and one at the end nearly nothing;
//!   - outside every window, after a window ending at row `r` of width `w`: `y = (i - r) / (w - 1)`,
//!     weight `A_FP · s(y)` — close to `0` just after the window and `-A_FP` from three window widths on;
//!   - before the first window: `-A_FP`.
//! - **Score at a threshold**: a row is a detection when its anomaly score is `>= threshold`. Every
//!   false-positive row adds its (negative) weight; each scored window adds the weight of its
//!   *best* — that is its earliest — detection, or `-A_FN` when it has none.
//! - **Threshold**: one per detector and profile, chosen to maximise the sum of the file scores over
//!   the whole corpus (every distinct anomaly score is a candidate, plus one above them all).
//! - **Normalisation**: `100 · (raw - null) / (perfect - null)`, where the null detector never
//!   detects (`-A_FN` per scored window) and the perfect one detects every window at its start
//!   (`A_TP` per window).
//!
//! Ties behave as in NAB: equal scores enter or leave the detection set together, and among
//! thresholds with the same corpus score the highest wins.

/// A profile's costs (`config/profiles.json` → `CostMatrix`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostMatrix {
    pub tp_weight: f64,
    pub fp_weight: f64,
    pub fn_weight: f64,
}

/// A named scoring profile: `standard`, `reward_low_FP_rate`, `reward_low_FN_rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub costs: CostMatrix,
}

/// A labelled anomaly window as an inclusive range of row indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
}

/// Share of each file given to the detector to learn, and its cap in rows.
pub const PROBATION_PERCENT: f64 = 0.15;
const PROBATION_CAP_ROWS: f64 = PROBATION_PERCENT * 5000.0;

/// Rows at the start of a file of `rows` rows whose detections are ignored.
pub fn probationary_length(rows: usize) -> usize {
    let length = (PROBATION_PERCENT * rows as f64).floor().min(PROBATION_CAP_ROWS);
    length as usize
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// NAB's scaled sigmoid of a position relative to a window.
fn scaled_sigmoid(position: f64) -> f64 {
    if position > 3.0 { -1.0 } else { 2.0 * sigmoid(-5.0 * position) - 1.0 }
}

/// What a detection at each row of one file is worth under one profile.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// NAB's `S(t)`: the weight of a detection at each row (probationary rows included).
    pub weights: Vec<f64>,
    /// The window each row belongs to, `None` outside every window.
    pub window_of: Vec<Option<usize>>,
    /// Rows before this index are probationary.
    pub probation: usize,
    /// Windows with at least one row after the probationary period (the ones that are scored).
    pub scored_windows: Vec<bool>,
    /// The profile's cost of a missed window.
    pub fn_weight: f64,
}

impl Sweep {
    /// Weights of every row of a file of `rows` rows with the given `windows` (sorted, disjoint).
    pub fn new(rows: usize, windows: &[Window], costs: &CostMatrix) -> Sweep {
        let max_tp = scaled_sigmoid(-1.0);
        let probation = probationary_length(rows);
        let mut weights = Vec::with_capacity(rows);
        let mut window_of = Vec::with_capacity(rows);
        let mut next = 0usize;
        let mut current: Option<usize> = None;
        let mut previous: Option<(usize, f64)> = None; // (right index, width) of the last window passed
        for i in 0..rows {
            if current.is_none() && next < windows.len() && windows[next].start == i {
                current = Some(next);
                next += 1;
            }
            let weight = match current {
                Some(w) => {
                    let window = windows[w];
                    let width = (window.end - window.start + 1) as f64;
                    let position = -((window.end as f64 - i as f64 + 1.0) / width);
                    scaled_sigmoid(position) * costs.tp_weight / max_tp
                }
                None => {
                    let unweighted = match previous {
                        None => -1.0,
                        // A one-row window has no width to measure by: every later row is far from it.
                        Some((_, width)) if width <= 1.0 => -1.0,
                        Some((right, width)) => scaled_sigmoid((i as f64 - right as f64).abs() / (width - 1.0)),
                    };
                    unweighted * costs.fp_weight
                }
            };
            weights.push(weight);
            window_of.push(current);
            if let Some(w) = current
                && windows[w].end == i
            {
                previous = Some((i, (windows[w].end - windows[w].start + 1) as f64));
                current = None;
            }
        }
        let scored_windows = windows.iter().map(|w| w.end >= probation && w.start < rows).collect();
        Sweep { weights, window_of, probation, scored_windows, fn_weight: costs.fn_weight }
    }

    /// Number of windows that are scored.
    pub fn scored_window_count(&self) -> usize {
        self.scored_windows.iter().filter(|s| **s).count()
    }

    /// The file's score when every row whose anomaly score is `>= threshold` is a detection.
    pub fn score_at(&self, scores: &[f64], threshold: f64) -> FileScore {
        assert_eq!(scores.len(), self.weights.len(), "one anomaly score per row");
        let mut best: Vec<Option<f64>> = vec![None; self.scored_windows.len()];
        let mut out = FileScore { rows: scores.len(), ..FileScore::default() };
        let mut fp_sum = 0.0;
        let rows = scores.iter().zip(&self.window_of).zip(&self.weights).skip(self.probation);
        for ((score, window), weight) in rows {
            match (*window, *score >= threshold) {
                (Some(w), true) => {
                    out.tp += 1;
                    let b = best[w].get_or_insert(f64::NEG_INFINITY);
                    *b = b.max(*weight);
                }
                (Some(_), false) => out.fn_ += 1,
                (None, true) => {
                    out.fp += 1;
                    fp_sum += *weight;
                }
                (None, false) => out.tn += 1,
            }
        }
        let mut windows_sum = 0.0;
        for (w, scored) in self.scored_windows.iter().enumerate() {
            if !scored {
                continue;
            }
            match best[w] {
                Some(b) => {
                    out.detected_windows += 1;
                    windows_sum += b.max(-self.fn_weight);
                }
                None => {
                    out.missed_windows += 1;
                    windows_sum -= self.fn_weight;
                }
            }
        }
        out.score = fp_sum + windows_sum;
        out
    }

    /// Where the score at `threshold` comes from, row by row, as NAB's per-row `S(t)` output columns
    /// show it: each false positive at its row, each scored window's result (its best detection, or
    /// `-A_FN`) at the window's first row, zero elsewhere. Sums to `score_at(..).score`.
    pub fn contributions(&self, scores: &[f64], threshold: f64, windows: &[Window]) -> Vec<f64> {
        assert_eq!(scores.len(), self.weights.len(), "one anomaly score per row");
        let mut out = vec![0.0; scores.len()];
        let mut best: Vec<f64> = vec![-self.fn_weight; windows.len()];
        for i in self.probation..scores.len() {
            if scores[i] >= threshold {
                match self.window_of[i] {
                    Some(w) => best[w] = best[w].max(self.weights[i]),
                    None => out[i] = self.weights[i],
                }
            }
        }
        for (w, window) in windows.iter().enumerate() {
            if self.scored_windows[w] {
                out[window.start] = best[w];
            }
        }
        out
    }
}

/// One file's result at a threshold. `tp`/`tn`/`fp`/`fn_` count scored *rows* as NAB's CSVs do.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FileScore {
    pub score: f64,
    pub tp: usize,
    pub tn: usize,
    pub fp: usize,
    pub fn_: usize,
    pub rows: usize,
    pub detected_windows: usize,
    pub missed_windows: usize,
}

/// The best corpus-wide threshold and the raw score it gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Optimum {
    pub threshold: f64,
    pub score: f64,
}

/// Threshold above every anomaly score (nothing detected), as in NAB.
const NO_DETECTION_THRESHOLD: f64 = 1.1;

/// Choose the threshold that maximises the summed score of `files` (each a sweep and its anomaly
/// scores). Sorting every scored row by anomaly score and adding them one group of equal scores at a
/// time evaluates every candidate threshold in `O(n log n)`.
pub fn optimise_threshold(files: &[(&Sweep, &[f64])]) -> Optimum {
    struct Row {
        score: f64,
        weight: f64,
        window: Option<usize>,
    }
    let mut rows = Vec::new();
    let mut window_base = 0usize;
    let mut best_in_window: Vec<f64> = Vec::new();
    let mut total = 0.0;
    for (sweep, scores) in files {
        assert_eq!(scores.len(), sweep.weights.len(), "one anomaly score per row");
        for scored in &sweep.scored_windows {
            best_in_window.push(-sweep.fn_weight);
            if *scored {
                total -= sweep.fn_weight;
            }
        }
        for i in sweep.probation..scores.len() {
            rows.push(Row {
                score: scores[i],
                weight: sweep.weights[i],
                window: sweep.window_of[i].map(|w| w + window_base),
            });
        }
        window_base += sweep.scored_windows.len();
    }
    rows.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut best = Optimum { threshold: NO_DETECTION_THRESHOLD, score: total };
    let mut i = 0;
    while i < rows.len() {
        let threshold = rows[i].score;
        while i < rows.len() && rows[i].score == threshold {
            let row = &rows[i];
            match row.window {
                Some(w) => {
                    if row.weight > best_in_window[w] {
                        total += row.weight - best_in_window[w];
                        best_in_window[w] = row.weight;
                    }
                }
                None => total += row.weight,
            }
            i += 1;
        }
        if total > best.score {
            best = Optimum { threshold, score: total };
        }
    }
    best
}

/// NAB's normalised score: 100 for the perfect detector, 0 for the null detector.
pub fn normalise(raw: f64, null: f64, perfect: f64) -> f64 {
    if perfect == null { 0.0 } else { 100.0 * (raw - null) / (perfect - null) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: CostMatrix = CostMatrix { tp_weight: 1.0, fp_weight: 0.11, fn_weight: 1.0 };

    #[test]
    fn probation_is_fifteen_percent_capped_at_750_rows() {
        assert_eq!(probationary_length(4032), 604);
        assert_eq!(probationary_length(1243), 186);
        assert_eq!(probationary_length(22695), 750);
    }

    #[test]
    fn detection_at_window_start_is_worth_a_tp_and_earlier_is_better() {
        let sweep = Sweep::new(1000, &[Window { start: 500, end: 599 }], &STANDARD);
        assert!((sweep.weights[500] - 1.0).abs() < 1e-12);
        assert!(sweep.weights[550] < sweep.weights[520]);
        assert!(sweep.weights[599] > 0.0 && sweep.weights[599] < 0.1);
        // Before any window: a full false positive; far after: full again; just after: small.
        assert_eq!(sweep.weights[300], -0.11);
        assert!(sweep.weights[600] > -0.01);
        assert_eq!(sweep.weights[999], -0.11);
    }

    #[test]
    fn only_the_first_detection_in_a_window_counts_and_misses_cost_a_fn() {
        let sweep = Sweep::new(1000, &[Window { start: 500, end: 599 }], &STANDARD);
        let mut scores = vec![0.0; 1000];
        assert_eq!(sweep.score_at(&scores, 0.5).score, -1.0);
        scores[500] = 1.0;
        scores[510] = 1.0;
        let s = sweep.score_at(&scores, 0.5);
        assert!((s.score - 1.0).abs() < 1e-12);
        assert_eq!((s.tp, s.detected_windows), (2, 1));
        // Detections in the probationary period are ignored.
        scores[10] = 1.0;
        assert!((sweep.score_at(&scores, 0.5).score - 1.0).abs() < 1e-12);
        scores[300] = 1.0;
        assert!((sweep.score_at(&scores, 0.5).score - 0.89).abs() < 1e-12);
    }

    #[test]
    fn optimiser_agrees_with_scoring_at_its_threshold() {
        let sweep = Sweep::new(1000, &[Window { start: 500, end: 599 }], &STANDARD);
        let scores: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 / 100.0).collect();
        let best = optimise_threshold(&[(&sweep, &scores)]);
        assert!((sweep.score_at(&scores, best.threshold).score - best.score).abs() < 1e-9);
        for t in [0.0, 0.3, 0.9, 0.95, 1.0] {
            assert!(sweep.score_at(&scores, t).score <= best.score + 1e-12);
        }
    }
}
