//! A robust O(1) streaming baseline.

/// Exponentially weighted location and scale with Huber-clipped updates: a residual larger than
/// `clip` scales moves the estimates only as far as `clip` scales would, so one outlier cannot drag
/// the baseline it is judged against. It starts as a plain running mean while it has seen fewer
/// than `1 / alpha` values, so it is useful from the first few points.
#[derive(Debug, Clone)]
pub(crate) struct RobustEw {
    alpha: f64,
    clip: f64,
    n: u64,
    location: f64,
    /// Mean absolute (clipped) deviation from `location`.
    scale: f64,
}

impl RobustEw {
    pub(crate) fn new(alpha: f64, clip: f64) -> RobustEw {
        RobustEw { alpha, clip, n: 0, location: 0.0, scale: 0.0 }
    }

    pub(crate) fn scale(&self) -> f64 {
        self.scale
    }

    /// The residual of `x` from the baseline as it was, then learn `x`.
    pub(crate) fn update(&mut self, x: f64) -> f64 {
        self.n += 1;
        if self.n == 1 {
            self.location = x;
            return 0.0;
        }
        let residual = x - self.location;
        let a = self.alpha.max(1.0 / self.n as f64);
        let limit = self.clip * self.scale;
        let clipped = if self.n > 8 && limit > 0.0 { residual.clamp(-limit, limit) } else { residual };
        self.location += a * clipped;
        self.scale += a * (clipped.abs() - self.scale);
        residual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_outlier_barely_moves_the_baseline() {
        let mut b = RobustEw::new(0.05, 3.0);
        for i in 0..200 {
            b.update(10.0 + (i % 2) as f64);
        }
        let before = b.location;
        assert!((b.update(1e6) - (1e6 - before)).abs() < 1e-6);
        assert!((b.location - before).abs() < 0.2, "{} vs {before}", b.location);
    }
}
