//! The optimizers `train` offers, as settings (pipe-torch's `optim`
//! implements them).

/// An optimiser and its hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum OptimConfig {
    /// `torch.optim.SGD` with dampening 0.
    Sgd {
        lr: f64,
        momentum: f64,
        weight_decay: f64,
        nesterov: bool,
    },
    /// `torch.optim.Adam` (L2 weight decay added to the gradient, not AdamW).
    Adam {
        lr: f64,
        betas: (f64, f64),
        eps: f64,
        weight_decay: f64,
    },
}

impl OptimConfig {
    pub fn lr(&self) -> f64 {
        match self {
            OptimConfig::Sgd { lr, .. } | OptimConfig::Adam { lr, .. } => *lr,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            OptimConfig::Sgd { .. } => "sgd",
            OptimConfig::Adam { .. } => "adam",
        }
    }

    /// The state slots kept per parameter (the names of
    /// `torch.optim`'s state entries).
    pub fn slots(&self) -> &'static [&'static str] {
        match self {
            OptimConfig::Sgd { momentum, .. } if *momentum != 0.0 => &["momentum_buffer"],
            OptimConfig::Sgd { .. } => &[],
            OptimConfig::Adam { .. } => &["exp_avg", "exp_avg_sq"],
        }
    }
}
