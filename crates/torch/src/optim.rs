//! SGD and Adam with exactly `torch.optim`'s update rules, written on
//! tensors so that their state can be checkpointed and restored bit for bit
//! (tch's C++ optimizers keep their state out of reach).
//!
//! The state of parameter `name` is saved as `optim.<name>.<slot>` and the
//! step counter as `optim.step`, so a checkpoint is plain safetensors.

use std::collections::BTreeMap;

use pipe_engine::{Error, Result};
pub use pipe_torch_spec::optim::OptimConfig;
use tch::Tensor;

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
    /// Present when the parameters live in one buffer (see [`Flat`]).
    flat: Option<Flat>,
}

/// Every parameter, and once bound every gradient, as a view into one
/// buffer, so that an update is a handful of kernels over all parameters
/// instead of a few per parameter (what PyTorch's `foreach` optimizers
/// achieve; on a GPU the per-parameter launches of DenseNet's 600 tensors
/// would cost more than its backward pass). The arithmetic per element is
/// the same as the per-parameter path.
struct Flat {
    params: Tensor,
    grads: Tensor,
    /// Each parameter's (offset, length) in the buffers.
    spans: Vec<(i64, i64)>,
    /// Where each parameter's gradient must live once bound.
    grad_ptrs: Vec<usize>,
    bound: bool,
    /// The slots of [`OptimConfig::slots`] over the whole buffer, under the
    /// key `""`; absent before the first step.
    state: BTreeMap<String, Vec<Tensor>>,
}

impl Flat {
    /// Moves the parameters into one buffer; `None` when they differ in
    /// dtype or device or are not plainly contiguous (channels-last).
    fn new(params: &mut [(String, Tensor)]) -> Option<Flat> {
        let first = &params.first()?.1;
        let (kind, device) = (first.kind(), first.device());
        if params
            .iter()
            .any(|(_, p)| p.kind() != kind || p.device() != device || !p.is_contiguous())
        {
            return None;
        }
        // Each parameter starts at a multiple of ALIGN elements: kernels
        // (cuDNN's above all) pick slower paths for misaligned weights. The
        // gaps stay zero: their gradient is zero, so no update moves them.
        const ALIGN: i64 = 64;
        let padded = |n: i64| (n + ALIGN - 1) / ALIGN * ALIGN;
        let total: i64 = params.iter().map(|(_, p)| padded(p.numel() as i64)).sum();
        let flat = Tensor::zeros([total], (kind, device));
        let mut spans = Vec::with_capacity(params.len());
        let mut offset = 0;
        tch::no_grad(|| {
            for (_, p) in params.iter_mut() {
                let n = p.numel() as i64;
                let mut view = flat.narrow(0, offset, n).view(p.size().as_slice());
                view.copy_(p);
                p.set_data(&view);
                spans.push((offset, n));
                offset += padded(n);
            }
        });
        let grads = flat.zeros_like();
        let grad_ptrs = spans
            .iter()
            .map(|&(o, _)| grads.narrow(0, o, 1).data_ptr() as usize)
            .collect();
        Some(Flat {
            params: flat,
            grads,
            spans,
            grad_ptrs,
            bound: false,
            state: BTreeMap::new(),
        })
    }

    /// Makes every gradient a view of `grads` (autograd then accumulates
    /// into it in place). Returns false when a parameter has no gradient:
    /// the flat update would then touch a parameter PyTorch skips.
    fn bind(&mut self, params: &[(String, Tensor)]) -> bool {
        for ((_, p), (&(o, n), &ptr)) in params.iter().zip(self.spans.iter().zip(&self.grad_ptrs)) {
            let mut g = p.grad();
            if !g.defined() {
                return false;
            }
            if g.data_ptr() as usize == ptr && g.is_contiguous() {
                continue;
            }
            tch::no_grad(|| {
                let mut view = self.grads.narrow(0, o, n).view(p.size().as_slice());
                view.copy_(&g);
                g.set_data(&view);
            });
        }
        self.bound = true;
        true
    }
}

impl Optimizer {
    /// `params` are the trainable parameters (shallow clones of the model's).
    /// On a GPU their data is moved into one buffer where possible (their
    /// values do not change; the model sees the move): there a kernel launch
    /// per parameter costs more than the arithmetic. On the CPU launches are
    /// cheap, and fresh per-parameter gradients (see [`Optimizer::minimize`])
    /// save the two passes over every gradient that zeroing and
    /// accumulating into one buffer cost.
    pub fn new(config: OptimConfig, params: Vec<(String, Tensor)>) -> Optimizer {
        let on_gpu = params.first().is_some_and(|(_, p)| p.device().is_cuda());
        Optimizer::with_layout(config, params, on_gpu)
    }

    /// `flat: false` keeps every parameter where it is and updates them one
    /// by one (for comparisons).
    pub fn with_layout(
        config: OptimConfig,
        mut params: Vec<(String, Tensor)>,
        flat: bool,
    ) -> Optimizer {
        let flat = if flat { Flat::new(&mut params) } else { None };
        Optimizer {
            config,
            params,
            state: BTreeMap::new(),
            step: 0,
            flat,
        }
    }

    /// Whether updates run over one buffer.
    pub fn is_flat(&self) -> bool {
        self.flat.is_some()
    }

    pub fn config(&self) -> &OptimConfig {
        &self.config
    }

    pub fn steps(&self) -> i64 {
        self.step
    }

    /// Backpropagates `loss` and updates every parameter that it reaches:
    /// PyTorch's `zero_grad(); loss.backward(); step()`.
    ///
    /// Per parameter, the gradients come back as fresh tensors, as they do
    /// after PyTorch's `zero_grad(set_to_none=True)`, and nothing is left in
    /// `.grad`. Over one buffer, they accumulate into the zeroed buffer
    /// (the same values: adding into zeros is exact).
    pub fn minimize(&mut self, loss: &Tensor) -> Result<()> {
        if self.flat.is_some() {
            self.zero_grad();
            loss.backward();
            return self.step();
        }
        let params: Vec<&Tensor> = self.params.iter().map(|(_, p)| p).collect();
        let grads = Tensor::f_run_backward(&[loss], &params, false, false)
            .map_err(|e| Error::failed(format!("backward pass: {e}")))?;
        self.step += 1;
        self.update_each(grads);
        Ok(())
    }

    /// Zeroes the gradients (the same values as PyTorch's set-to-none: a
    /// backward pass adds into zeros exactly).
    pub fn zero_grad(&mut self) {
        if let Some(flat) = self.flat.as_mut().filter(|f| f.bound) {
            let _ = flat.grads.zero_();
            return;
        }
        for (_, p) in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_();
                let _ = g.zero_();
            }
        }
    }

    /// One update of every parameter that has a gradient in `.grad`.
    pub fn step(&mut self) -> Result<()> {
        self.step += 1;
        if let Some(flat) = self.flat.as_mut() {
            if flat.bind(&self.params) {
                let grad = flat.grads.shallow_clone();
                tch::no_grad(|| {
                    update(
                        &self.config,
                        &mut flat.params,
                        grad,
                        &mut flat.state,
                        "",
                        self.step,
                    )
                });
                return Ok(());
            }
            if !flat.state.is_empty() {
                return Err(Error::internal(
                    "a parameter lost its gradient after the first step",
                ));
            }
            // Some parameter got no gradient: update per parameter from now on.
            self.flat = None;
        }
        let grads = self.params.iter().map(|(_, p)| p.grad()).collect();
        self.update_each(grads);
        Ok(())
    }

    /// One update of each parameter whose gradient is defined (PyTorch
    /// skips a parameter whose gradient is None).
    fn update_each(&mut self, grads: Vec<Tensor>) {
        tch::no_grad(|| {
            for ((name, p), grad) in self.params.iter_mut().zip(grads) {
                if grad.defined() {
                    update(&self.config, p, grad, &mut self.state, name, self.step);
                }
            }
        })
    }

    /// The state as named tensors, for a checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("optim.step".to_string(), Tensor::from_slice(&[self.step]))];
        if let Some(flat) = &self.flat {
            if let Some(slots) = flat.state.get("") {
                for ((name, p), &(o, n)) in self.params.iter().zip(&flat.spans) {
                    for (slot, t) in self.config.slots().iter().zip(slots) {
                        out.push((
                            format!("optim.{name}.{slot}"),
                            t.narrow(0, o, n).view(p.size().as_slice()),
                        ));
                    }
                }
            }
            return out;
        }
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
        if let Some(flat) = self.flat.as_mut() {
            flat.state.clear();
            let slots = self.config.slots();
            let present = self
                .params
                .iter()
                .filter(|(name, _)| {
                    saved.contains_key(&format!("optim.{name}.{}", slots.first().unwrap_or(&"")))
                })
                .count();
            if slots.is_empty() || present == 0 {
                return Ok(());
            }
            let mut buffers = Vec::with_capacity(slots.len());
            for slot in slots {
                let buffer = flat.params.zeros_like();
                for ((name, p), &(o, n)) in self.params.iter().zip(&flat.spans) {
                    let key = format!("optim.{name}.{slot}");
                    let t = saved
                        .get(&key)
                        .ok_or_else(|| Error::failed(format!("checkpoint lacks `{key}`")))?;
                    if t.size() != p.size() {
                        return Err(Error::failed(format!(
                            "checkpoint's `{key}` has shape {:?}, the parameter {:?}",
                            t.size(),
                            p.size()
                        )));
                    }
                    tch::no_grad(|| buffer.narrow(0, o, n).copy_(&t.reshape([-1])));
                }
                buffers.push(buffer);
            }
            flat.state.insert(String::new(), buffers);
            return Ok(());
        }
        for (name, p) in &self.params {
            let slots = self.config.slots();
            let found: Vec<Option<&Tensor>> = slots
                .iter()
                .map(|s| saved.get(&format!("optim.{name}.{s}")))
                .collect();
            if slots.is_empty() || found.iter().all(Option::is_none) {
                continue;
            }
            let mut tensors = Vec::with_capacity(slots.len());
            for (slot, t) in slots.iter().zip(found) {
                let t = t.ok_or_else(|| {
                    Error::failed(format!("checkpoint lacks `optim.{name}.{slot}`"))
                })?;
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

/// One update of `p` (a parameter, or all of them in one buffer) by `config`.
fn update(
    config: &OptimConfig,
    p: &mut Tensor,
    grad: Tensor,
    state: &mut BTreeMap<String, Vec<Tensor>>,
    name: &str,
    step: i64,
) {
    match *config {
        OptimConfig::Sgd {
            lr,
            momentum,
            weight_decay,
            nesterov,
        } => sgd(p, grad, state, name, lr, momentum, weight_decay, nesterov),
        OptimConfig::Adam {
            lr,
            betas,
            eps,
            weight_decay,
        } => adam(p, grad, state, name, step, lr, betas, eps, weight_decay),
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
    let mut d = if weight_decay != 0.0 {
        &grad + p.detach() * weight_decay
    } else {
        grad
    };
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
    // `p.add_(d, alpha=-lr)` in one pass and without a temporary.
    let _ = p.addcmul_(&d, &scalar(-lr, p));
}

/// A 0-dim tensor of `p`'s dtype on `p`'s device, for the ops tch exposes
/// without PyTorch's `alpha`/`value` argument.
fn scalar(value: f64, p: &Tensor) -> Tensor {
    Tensor::from(value).to_kind(p.kind()).to_device(p.device())
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
    let grad = if weight_decay != 0.0 {
        &grad + p.detach() * weight_decay
    } else {
        grad
    };
    let slots = state
        .entry(name.to_string())
        .or_insert_with(|| vec![p.zeros_like().detach(), p.zeros_like().detach()]);
    let (avg, rest) = slots.split_at_mut(1);
    let (exp_avg, exp_avg_sq) = (&mut avg[0], &mut rest[0]);
    let _ = exp_avg.lerp_(&grad, 1.0 - beta1);
    let _ = exp_avg_sq.g_mul_scalar_(beta2);
    let _ = exp_avg_sq.addcmul_(&grad, &(&grad * (1.0 - beta2)));
    let bias_correction1 = 1.0 - beta1.powi(step as i32);
    let bias_correction2 = 1.0 - beta2.powi(step as i32);
    let step_size = lr / bias_correction1;
    let mut denom = exp_avg_sq.sqrt();
    let _ = denom.g_div_scalar_(bias_correction2.sqrt());
    let _ = denom.g_add_scalar_(eps);
    // `p.addcdiv_(exp_avg, denom, value=-step_size)`, reusing `denom`.
    let ratio = exp_avg.div_out(&denom, &denom);
    let _ = p.addcmul_(&ratio, &scalar(-step_size, p));
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
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-6 * (1.0 + y.abs()))
    }

    #[test]
    fn sgd_momentum_matches_hand_computation() {
        let p = param(&[1.0, -2.0]);
        let config = OptimConfig::Sgd {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.01,
            nesterov: false,
        };
        let mut opt = Optimizer::new(config, vec![("w".into(), p.shallow_clone())]);
        set_grad(&p, &[0.5, 1.0]);
        opt.step().unwrap();
        // d = g + 0.01 p = [0.51, 0.98]; buf = d; p -= 0.1 buf
        let p1 = [1.0 - 0.051, -2.0 - 0.098];
        assert!(close(&values(&p), &p1), "{:?}", values(&p));
        set_grad(&p, &[0.5, 1.0]);
        opt.step().unwrap();
        let d: Vec<f32> = [0.5, 1.0]
            .iter()
            .zip(p1)
            .map(|(g, w)| g + 0.01 * w)
            .collect();
        let buf: Vec<f32> = [0.51f32, 0.98]
            .iter()
            .zip(&d)
            .map(|(b, d)| 0.9 * b + d)
            .collect();
        let p2: Vec<f32> = p1.iter().zip(&buf).map(|(w, b)| w - 0.1 * b).collect();
        assert!(close(&values(&p), &p2), "{:?} vs {p2:?}", values(&p));
    }

    #[test]
    fn sgd_nesterov_matches_hand_computation() {
        let p = param(&[1.0]);
        let config = OptimConfig::Sgd {
            lr: 0.5,
            momentum: 0.5,
            weight_decay: 0.0,
            nesterov: true,
        };
        let mut opt = Optimizer::new(config, vec![("w".into(), p.shallow_clone())]);
        set_grad(&p, &[2.0]);
        opt.step().unwrap();
        // buf = 2; d = 2 + 0.5 * 2 = 3; p = 1 - 1.5
        assert!(close(&values(&p), &[-0.5]));
    }

    #[test]
    fn adam_matches_hand_computation() {
        let p = param(&[1.0, -1.0]);
        let config = OptimConfig::Adam {
            lr: 0.01,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        };
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
    fn flat_and_per_parameter_updates_agree() {
        for config in [
            OptimConfig::Sgd {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 0.01,
                nesterov: true,
            },
            OptimConfig::Adam {
                lr: 0.01,
                betas: (0.9, 0.99),
                eps: 1e-8,
                weight_decay: 0.01,
            },
        ] {
            let make = || {
                let a = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0])
                    .view([2, 2])
                    .set_requires_grad(true);
                let b = Tensor::from_slice(&[0.25f32, 4.0, -1.0]).set_requires_grad(true);
                (a, b)
            };
            let (a1, b1) = make();
            let (a2, b2) = make();
            let named = |a: &Tensor, b: &Tensor| {
                vec![
                    ("a".to_string(), a.shallow_clone()),
                    ("b".to_string(), b.shallow_clone()),
                ]
            };
            let mut flat = Optimizer::with_layout(config.clone(), named(&a1, &b1), true);
            let mut each = Optimizer::with_layout(config.clone(), named(&a2, &b2), false);
            assert!(flat.is_flat() && !each.is_flat());
            for i in 0..3 {
                for (opt, a, b) in [(&mut flat, &a1, &b1), (&mut each, &a2, &b2)] {
                    let loss = (a * a).sum(tch::Kind::Float) * (i as f64 + 1.0)
                        + (b * b * b).sum(tch::Kind::Float);
                    opt.minimize(&loss).unwrap();
                }
                // Per parameter, the gradients never land in `.grad`.
                assert!(!a2.grad().defined() && !b2.grad().defined());
                assert!(
                    close(&values(&a1.flatten(0, -1)), &values(&a2.flatten(0, -1))),
                    "{config:?} step {i}"
                );
                assert!(close(&values(&b1), &values(&b2)), "{config:?} step {i}");
            }
            // The state reads back per parameter, in the parameter's shape.
            let s1: BTreeMap<String, Tensor> = flat.state_tensors().into_iter().collect();
            let s2: BTreeMap<String, Tensor> = each.state_tensors().into_iter().collect();
            assert_eq!(s1.keys().collect::<Vec<_>>(), s2.keys().collect::<Vec<_>>());
            for (k, v) in &s1 {
                assert_eq!(v.size(), s2[k].size(), "{k}");
                assert!(
                    close(&values(&v.flatten(0, -1)), &values(&s2[k].flatten(0, -1))),
                    "{k}"
                );
            }
            // And loads back into a flat optimizer.
            let (a3, b3) = make();
            let mut restored = Optimizer::new(config, named(&a3, &b3));
            restored.load_state(&s1).unwrap();
            let s3: BTreeMap<String, Tensor> = restored.state_tensors().into_iter().collect();
            for (k, v) in &s1 {
                assert!(v.equal(&s3[k]), "{k}");
            }
        }
    }

    #[test]
    fn minimize_skips_a_parameter_the_loss_does_not_reach() {
        // As PyTorch skips a parameter whose gradient is None: not even
        // weight decay moves it.
        let (a, b) = (param(&[1.0, 2.0]), param(&[3.0]));
        let config = OptimConfig::Sgd {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.5,
            nesterov: false,
        };
        let named = vec![
            ("a".into(), a.shallow_clone()),
            ("b".into(), b.shallow_clone()),
        ];
        let mut opt = Optimizer::with_layout(config, named, false);
        for _ in 0..2 {
            opt.minimize(&(&a * &a).sum(tch::Kind::Float)).unwrap();
        }
        assert_eq!(values(&b), vec![3.0]);
        assert_ne!(values(&a), vec![1.0, 2.0]);
        let state: BTreeMap<String, Tensor> = opt.state_tensors().into_iter().collect();
        assert!(state.contains_key("optim.a.momentum_buffer"));
        assert!(!state.contains_key("optim.b.momentum_buffer"));
    }

    #[test]
    fn state_round_trips() {
        let p = param(&[1.0, 2.0]);
        let config = OptimConfig::Adam {
            lr: 0.01,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.1,
        };
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
