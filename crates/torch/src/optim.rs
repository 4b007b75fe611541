//! SGD and Adam with exactly `torch.optim`'s update rules, written on
//! tensors so that their state can be checkpointed and restored bit for bit
//! (tch's C++ optimizers keep their state out of reach).
//!
//! The state of parameter `name` is saved as `optim.<name>.<slot>` and the
//! step counter as `optim.step`, so a checkpoint is plain safetensors.

use std::collections::BTreeMap;

use pipe_engine::{Error, Result};
use tch::Tensor;

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

    /// The state slots kept per parameter.
    fn slots(&self) -> &'static [&'static str] {
        match self {
            OptimConfig::Sgd { momentum, .. } if *momentum != 0.0 => &["momentum_buffer"],
            OptimConfig::Sgd { .. } => &[],
            OptimConfig::Adam { .. } => &["exp_avg", "exp_avg_sq"],
        }
    }
}

/// An optimiser over named parameters.
pub struct Optimizer {
    config: OptimConfig,
    params: Vec<(String, Tensor)>,
    /// Per parameter, its slots in the order of [`OptimConfig::slots`];
    /// absent until the parameter's first step (as in PyTorch, where SGD's
    /// first momentum buffer is the gradient itself).
    state: BTreeMap<String, Vec<Tensor>>,
    /// Steps taken (Adam's bias correction uses it).
    step: i64,
}

impl Optimizer {
    /// `params` are the trainable parameters (shallow clones of the model's).
    pub fn new(config: OptimConfig, params: Vec<(String, Tensor)>) -> Optimizer {
        Optimizer { config, params, state: BTreeMap::new(), step: 0 }
    }

    pub fn config(&self) -> &OptimConfig {
        &self.config
    }

    pub fn steps(&self) -> i64 {
        self.step
    }

    /// Clears the gradients, like `optimizer.zero_grad()` (set to none).
    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_();
                let _ = g.zero_();
            }
        }
    }

    /// One update of every parameter that has a gradient.
    pub fn step(&mut self) -> Result<()> {
        self.step += 1;
        let step = self.step;
        let config = self.config.clone();
        tch::no_grad(|| -> Result<()> {
            for (name, p) in &mut self.params {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                match &config {
                    OptimConfig::Sgd { lr, momentum, weight_decay, nesterov } => {
                        sgd(p, grad, &mut self.state, name, *lr, *momentum, *weight_decay, *nesterov)
                    }
                    OptimConfig::Adam { lr, betas, eps, weight_decay } => {
                        adam(p, grad, &mut self.state, name, step, *lr, *betas, *eps, *weight_decay)
                    }
                }
            }
            Ok(())
        })
    }

    /// The state as named tensors, for a checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("optim.step".to_string(), Tensor::from_slice(&[self.step]))];
        for (name, slots) in &self.state {
            for (slot, t) in self.config.slots().iter().zip(slots) {
                out.push((format!("optim.{name}.{slot}"), t.shallow_clone()));
            }
        }
        out
    }

    /// Restores what [`Optimizer::state_tensors`] saved. Tensors are copied
    /// onto each parameter's device with its memory layout.
    pub fn load_state(&mut self, saved: &BTreeMap<String, Tensor>) -> Result<()> {
        let step = saved
            .get("optim.step")
            .ok_or_else(|| Error::failed("checkpoint has no `optim.step`"))?;
        self.step = step.int64_value(&[0]);
        self.state.clear();
        for (name, p) in &self.params {
            let slots = self.config.slots();
            let found: Vec<Option<&Tensor>> =
                slots.iter().map(|s| saved.get(&format!("optim.{name}.{s}"))).collect();
            if slots.is_empty() || found.iter().all(Option::is_none) {
                continue;
            }
            let mut tensors = Vec::with_capacity(slots.len());
            for (slot, t) in slots.iter().zip(found) {
                let t = t.ok_or_else(|| Error::failed(format!("checkpoint lacks `optim.{name}.{slot}`")))?;
                if t.size() != p.size() {
                    return Err(Error::failed(format!(
                        "checkpoint's `optim.{name}.{slot}` has shape {:?}, the parameter {:?}",
                        t.size(),
                        p.size()
                    )));
                }
                let mut dst = p.zeros_like().detach();
                tch::no_grad(|| dst.copy_(t));
                tensors.push(dst);
            }
            self.state.insert(name.clone(), tensors);
        }
        Ok(())
    }
}

/// `torch.optim.sgd._single_tensor_sgd` with dampening 0.
#[allow(clippy::too_many_arguments)]
fn sgd(
    p: &mut Tensor,
    grad: Tensor,
    state: &mut BTreeMap<String, Vec<Tensor>>,
    name: &str,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
) {
    let mut d = if weight_decay != 0.0 { &grad + p.detach() * weight_decay } else { grad };
    if momentum != 0.0 {
        let buf = match state.get_mut(name) {
            Some(slots) => {
                let buf = &mut slots[0];
                let _ = buf.g_mul_scalar_(momentum);
                let _ = buf.g_add_(&d);
                buf.shallow_clone()
            }
            None => {
                let buf = d.detach().copy();
                state.insert(name.to_string(), vec![buf.shallow_clone()]);
                buf
            }
        };
        d = if nesterov { &d + &buf * momentum } else { buf };
    }
    let _ = p.g_sub_(&(d * lr));
}

/// `torch.optim.adam._single_tensor_adam` (no amsgrad, no maximize).
#[allow(clippy::too_many_arguments)]
fn adam(
    p: &mut Tensor,
    grad: Tensor,
    state: &mut BTreeMap<String, Vec<Tensor>>,
    name: &str,
    step: i64,
    lr: f64,
    (beta1, beta2): (f64, f64),
    eps: f64,
    weight_decay: f64,
) {
    let grad = if weight_decay != 0.0 { &grad + p.detach() * weight_decay } else { grad };
    let slots = state
        .entry(name.to_string())
        .or_insert_with(|| vec![p.zeros_like().detach(), p.zeros_like().detach()]);
    let (avg, rest) = slots.split_at_mut(1);
    let (exp_avg, exp_avg_sq) = (&mut avg[0], &mut rest[0]);
    let _ = exp_avg.lerp_(&grad, 1.0 - beta1);
    let _ = exp_avg_sq.g_mul_scalar_(beta2);
    let _ = exp_avg_sq.g_add_(&(&grad * &grad * (1.0 - beta2)));
    let bias_correction1 = 1.0 - beta1.powi(step as i32);
    let bias_correction2 = 1.0 - beta2.powi(step as i32);
    let step_size = lr / bias_correction1;
    let denom = (exp_avg_sq.sqrt() / bias_correction2.sqrt()).g_add_scalar(eps);
    let _ = p.g_sub_(&(exp_avg.as_ref() / denom * step_size));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(values: &[f32]) -> Tensor {
        Tensor::from_slice(values).set_requires_grad(true)
    }

    fn set_grad(p: &Tensor, g: &[f32]) {
        let mut grad = p.grad();
        if !grad.defined() {
            // A backward pass of sum(p * g) leaves exactly g as the gradient.
            (p * Tensor::from_slice(g)).sum(tch::Kind::Float).backward();
        } else {
            tch::no_grad(|| grad.copy_(&Tensor::from_slice(g)));
        }
    }

    fn values(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.detach()).unwrap_or_default()
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6 * (1.0 + y.abs()))
    }

    #[test]
    fn sgd_momentum_matches_hand_computation() {
        let p = param(&[1.0, -2.0]);
        let config = OptimConfig::Sgd { lr: 0.1, momentum: 0.9, weight_decay: 0.01, nesterov: false };
        let mut opt = Optimizer::new(config, vec![("w".into(), p.shallow_clone())]);
        set_grad(&p, &[0.5, 1.0]);
        opt.step().unwrap();
        // d = g + 0.01 p = [0.51, 0.98]; buf = d; p -= 0.1 buf
        let p1 = [1.0 - 0.051, -2.0 - 0.098];
        assert!(close(&values(&p), &p1), "{:?}", values(&p));
        set_grad(&p, &[0.5, 1.0]);
        opt.step().unwrap();
        let d: Vec<f32> = [0.5, 1.0].iter().zip(p1).map(|(g, w)| g + 0.01 * w).collect();
        let buf: Vec<f32> = [0.51f32, 0.98].iter().zip(&d).map(|(b, d)| 0.9 * b + d).collect();
        let p2: Vec<f32> = p1.iter().zip(&buf).map(|(w, b)| w - 0.1 * b).collect();
        assert!(close(&values(&p), &p2), "{:?} vs {p2:?}", values(&p));
    }

    #[test]
    fn sgd_nesterov_matches_hand_computation() {
        let p = param(&[1.0]);
        let config = OptimConfig::Sgd { lr: 0.5, momentum: 0.5, weight_decay: 0.0, nesterov: true };
        let mut opt = Optimizer::new(config, vec![("w".into(), p.shallow_clone())]);
        set_grad(&p, &[2.0]);
        opt.step().unwrap();
        // buf = 2; d = 2 + 0.5 * 2 = 3; p = 1 - 1.5
        assert!(close(&values(&p), &[-0.5]));
    }

    #[test]
    fn adam_matches_hand_computation() {
        let p = param(&[1.0, -1.0]);
        let config = OptimConfig::Adam { lr: 0.01, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0 };
        let mut opt = Optimizer::new(config, vec![("w".into(), p.shallow_clone())]);
        let grads = [[0.3f32, -0.2], [0.1, 0.4]];
        let (mut m, mut v, mut w) = ([0f64; 2], [0f64; 2], [1f64, -1.0]);
        for (t, g) in grads.iter().enumerate() {
            set_grad(&p, g);
            opt.step().unwrap();
            let t = t as i32 + 1;
            for i in 0..2 {
                let g = f64::from(g[i]);
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let mhat = m[i] / (1.0 - 0.9f64.powi(t));
                let vhat = v[i] / (1.0 - 0.999f64.powi(t));
                w[i] -= 0.01 * mhat / (vhat.sqrt() + 1e-8);
            }
        }
        let want: Vec<f32> = w.iter().map(|x| *x as f32).collect();
        assert!(close(&values(&p), &want), "{:?} vs {want:?}", values(&p));
    }

    #[test]
    fn state_round_trips() {
        let p = param(&[1.0, 2.0]);
        let config = OptimConfig::Adam { lr: 0.01, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.1 };
        let mut a = Optimizer::new(config.clone(), vec![("w".into(), p.shallow_clone())]);
        set_grad(&p, &[0.3, -0.2]);
        a.step().unwrap();
        let saved: BTreeMap<String, Tensor> = a.state_tensors().into_iter().collect();
        let q = param(&values(&p));
        let mut b = Optimizer::new(config, vec![("w".into(), q.shallow_clone())]);
        b.load_state(&saved).unwrap();
        set_grad(&p, &[0.1, 0.1]);
        set_grad(&q, &[0.1, 0.1]);
        a.step().unwrap();
        b.step().unwrap();
        assert_eq!(values(&p), values(&q));
        assert_eq!(b.steps(), 2);
    }
}
