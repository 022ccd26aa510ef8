//! Turning a channel's deviation into *surprise*: how rare the current value is in this series'
//! own history, in nats, so that channels and series with very different behaviour share one scale
//! (and one corpus-wide threshold).

/// Bins of the log-deviation histogram (`ln(1 + z)` from 0 up to `BINS × bin width`; larger values
/// fall in the last bin).
pub(crate) const BINS: usize = 128;

/// Rarity of a smoothed log-deviation `u = EW(ln(1 + z))` among the values seen before, with an
/// exponentially decayed histogram, plus a bonus for exceeding the (slowly decaying) record.
#[derive(Debug, Clone)]
pub(crate) struct Surprise {
    smoothed: f64,
    record: f64,
    n: u64,
    /// Decayed counts: each new value weighs `weight`, which grows by `1 + decay` per update
    /// (renormalised before it overflows), so older values count exponentially less.
    counts: [f64; BINS],
    weight: f64,
    total: f64,
}

/// The knobs shared by every channel's [`Surprise`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SurpriseParams {
    pub bin_width: f64,
    pub decay: f64,
    /// Pseudo-count in the tail: the surprise of a never-seen value is `ln((N + κ) / κ)`.
    pub kappa: f64,
    /// Nats per unit of `u` above the record.
    pub beta: f64,
    pub record_decay: f64,
    /// Largest rise of the record per update (a burst cannot raise it to its own peak at once,
    /// so an anomaly like the last one is still surprising).
    pub record_rise: f64,
    /// Updates during which the record follows every value (learning the normal range).
    pub warmup: u64,
}

impl Surprise {
    pub(crate) fn new() -> Surprise {
        Surprise { smoothed: 0.0, record: 0.0, n: 0, counts: [0.0; BINS], weight: 1.0, total: 0.0 }
    }

    /// Smooth `u` with `alpha`, score it against the history, then learn it.
    pub(crate) fn update(&mut self, u: f64, alpha: f64, p: &SurpriseParams) -> f64 {
        self.n += 1;
        self.smoothed += alpha * (u - self.smoothed);
        let u = self.smoothed;
        let bin = ((u / p.bin_width) as usize).min(BINS - 1);
        let at_or_above: f64 = self.counts[bin..].iter().sum();
        let prior = p.kappa * self.weight;
        let rarity = -((at_or_above + prior) / (self.total + prior)).ln();
        let surprise = rarity + p.beta * (u - self.record).max(0.0);

        self.record = (self.record - p.record_decay).max(0.0);
        if u > self.record {
            self.record = if self.n >= p.warmup { self.record + (u - self.record).min(p.record_rise) } else { u };
        }
        self.counts[bin] += self.weight;
        self.total += self.weight;
        self.weight *= 1.0 + p.decay;
        if self.weight > 1e100 {
            for c in &mut self.counts {
                *c /= self.weight;
            }
            self.total /= self.weight;
            self.weight = 1.0;
        }
        surprise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: SurpriseParams = SurpriseParams {
        bin_width: 0.25,
        decay: 0.001,
        kappa: 1.0,
        beta: 0.25,
        record_decay: 0.0,
        record_rise: 1.0,
        warmup: 10,
    };

    #[test]
    fn routine_values_are_unsurprising_and_new_extremes_are() {
        let mut s = Surprise::new();
        for i in 0..1000 {
            s.update(((i % 7) as f64) * 0.1, 1.0, &P);
        }
        assert!(s.update(0.3, 1.0, &P) < 1.0);
        assert!(s.update(5.0, 1.0, &P) > 6.0);
    }
}
