//! The training data loader: one epoch of batches in a seeded order, with
//! the augmentation policy applied on a thread pool in the background while
//! the consumer (the GPU step) works on earlier batches.
//!
//! A producer thread builds batches in order, each one's samples in
//! parallel on a rayon pool of `threads` workers, and hands them over a
//! bounded channel of `prefetch` batches: at most `prefetch + 1` batches
//! exist beyond the one being consumed, however slow the consumer.
//! Dropping the [`Loader`] stops the producer. Every random draw is keyed
//! by (seed, epoch, dataset index) or (seed, epoch, batch index), so the
//! bytes do not depend on thread timing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use rayon::prelude::*;

use crate::augment::{Policy, PURPOSE_BATCH, PURPOSE_SHUFFLE};
pub use crate::dataset::Dataset;
use crate::rng::Rng;

/// `[n, c, h, w]` pixels. `F32` holds 0..255 values (not normalised; the
/// device normalises).
#[derive(Clone, Debug, PartialEq)]
pub enum Images {
    U8(Vec<u8>),
    F32(Vec<f32>),
}

/// Class indices, or `[n, num_classes]` probabilities whose rows sum to 1.
#[derive(Clone, Debug, PartialEq)]
pub enum Labels {
    Hard(Vec<i64>),
    Soft(Vec<f32>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub images: Images,
    pub labels: Labels,
    pub n: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// The dataset indices of the samples, in batch order.
    pub indices: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub shuffle: bool,
    pub drop_last: bool,
    pub seed: u64,
    pub epoch: u64,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Finished batches that may wait for the consumer.
    pub prefetch: usize,
    pub num_classes: usize,
}

impl Default for LoaderConfig {
    fn default() -> LoaderConfig {
        LoaderConfig {
            batch_size: 50,
            shuffle: true,
            drop_last: false,
            seed: 0,
            epoch: 0,
            threads: 0,
            prefetch: 2,
            num_classes: 10,
        }
    }
}

/// The order of the samples in an epoch: a permutation seeded by (seed,
/// epoch), or `0..n` without shuffling.
pub fn epoch_order(n: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        Rng::keyed(seed, epoch, 0, PURPOSE_SHUFFLE).shuffle(&mut order);
    }
    order
}

/// The number of batches an epoch of `n` samples has.
pub fn batch_count(n: usize, batch_size: usize, drop_last: bool) -> usize {
    let bs = batch_size.max(1);
    if drop_last {
        n / bs
    } else {
        n.div_ceil(bs)
    }
}

/// Builds batch `b` (its samples in `indices`) synchronously.
pub fn make_batch(
    dataset: &Dataset,
    policy: &Policy,
    cfg: &LoaderConfig,
    b: usize,
    indices: Vec<usize>,
) -> Batch {
    let (c, h, w) = (dataset.channels, dataset.height, dataset.width);
    let len = dataset.image_len();
    let n = indices.len();
    let mut images = vec![0u8; n * len];
    images
        .par_chunks_mut(len.max(1))
        .zip(indices.par_iter())
        .for_each(|(dst, &i)| {
            match policy.apply_image(dataset.image(i), c, h, w, cfg.seed, cfg.epoch, i as u64) {
                Some(img) => dst.copy_from_slice(&img),
                None => dst.copy_from_slice(dataset.image(i)),
            }
        });
    let hard: Vec<i64> = indices.iter().map(|&i| dataset.labels[i]).collect();
    let (images, labels) = match policy {
        Policy::CutmixMixup(mix) => {
            let mut floats = vec![0f32; images.len()];
            floats
                .par_chunks_mut(1 << 16)
                .zip(images.par_chunks(1 << 16))
                .for_each(|(f, u)| {
                    f.iter_mut().zip(u).for_each(|(f, &u)| *f = f32::from(u));
                });
            drop(images);
            let mut mix = mix.clone();
            mix.num_classes = cfg.num_classes.max(1);
            let mut rng = Rng::keyed(cfg.seed, cfg.epoch, b as u64, PURPOSE_BATCH);
            let (soft, _) = mix.apply(&mut floats, &hard, c, h, w, &mut rng);
            (Images::F32(floats), Labels::Soft(soft))
        }
        _ => (Images::U8(images), Labels::Hard(hard)),
    };
    Batch {
        images,
        labels,
        n,
        channels: c,
        height: h,
        width: w,
        indices,
    }
}

/// One epoch of batches, produced in the background.
pub struct Loader {
    rx: Option<Receiver<Batch>>,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
    batches: usize,
}

impl Loader {
    pub fn new(dataset: Arc<Dataset>, policy: Arc<Policy>, cfg: LoaderConfig) -> Loader {
        let order = epoch_order(dataset.n, cfg.seed, cfg.epoch, cfg.shuffle);
        let bs = cfg.batch_size.max(1);
        let batches = batch_count(dataset.n, bs, cfg.drop_last);
        let (tx, rx) = sync_channel(cfg.prefetch.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let worker = std::thread::Builder::new()
            .name("pipe-loader".into())
            .spawn(move || {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(cfg.threads)
                    .thread_name(|i| format!("pipe-augment-{i}"))
                    .build();
                let run = || {
                    for b in 0..batches {
                        if stop2.load(Ordering::Relaxed) {
                            return;
                        }
                        let end = ((b + 1) * bs).min(order.len());
                        let batch =
                            make_batch(&dataset, &policy, &cfg, b, order[b * bs..end].to_vec());
                        if tx.send(batch).is_err() {
                            return;
                        }
                    }
                };
                match pool {
                    Ok(pool) => pool.install(run),
                    // No pool of our own: the global one still works.
                    Err(_) => run(),
                }
            })
            .ok();
        Loader {
            rx: Some(rx),
            stop,
            worker,
            batches,
        }
    }

    /// Batches in this epoch.
    pub fn batches(&self) -> usize {
        self.batches
    }
}

impl Iterator for Loader {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Closing the channel unblocks a producer waiting to send.
        self.rx.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
