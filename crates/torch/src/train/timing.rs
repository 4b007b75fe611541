//! How fast the epochs this process trained went: measurements of the run
//! (the result's manifest), never part of its outputs.

/// Sums over the epochs trained by this process (a resumed or continued run
/// counts only its own).
#[derive(Debug, Default)]
pub struct Timing {
    epochs: usize,
    seconds: f64,
    images_per_s: f64,
}

impl Timing {
    /// One epoch: its seconds (training and evaluation) and its training
    /// images per second.
    pub fn add(&mut self, seconds: f64, images_per_s: f64) {
        self.epochs += 1;
        self.seconds += seconds;
        self.images_per_s += images_per_s;
    }

    pub fn mean_seconds(&self) -> Option<f64> {
        (self.epochs > 0).then(|| self.seconds / self.epochs as f64)
    }

    pub fn mean_images_per_s(&self) -> Option<f64> {
        (self.epochs > 0).then(|| self.images_per_s / self.epochs as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_over_the_epochs_added_and_none_before() {
        let mut t = Timing::default();
        assert_eq!(t.mean_seconds(), None);
        t.add(2.0, 100.0);
        t.add(4.0, 300.0);
        assert_eq!(t.mean_seconds(), Some(3.0));
        assert_eq!(t.mean_images_per_s(), Some(200.0));
    }
}
