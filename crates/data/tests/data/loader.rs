//! The loader: every index once per epoch, deterministic batches, epochs
//! that differ, soft labels for cutmix_mixup, and a clean early drop.

use std::sync::Arc;

use pipe_data::augment::{AugMix, CutmixMixup, Policy};
use pipe_data::loader::{epoch_order, Images, Labels, Loader, LoaderConfig};
use pipe_data::Dataset;

fn dataset(n: usize, side: usize) -> Arc<Dataset> {
    let len = 3 * side * side;
    let images = (0..n * len)
        .map(|i| ((i * 13 + i / len * 7) % 256) as u8)
        .collect();
    Arc::new(Dataset {
        images,
        labels: (0..n as i64).map(|i| i % 10).collect(),
        n,
        channels: 3,
        height: side,
        width: side,
    })
}

fn config(epoch: u64) -> LoaderConfig {
    LoaderConfig {
        batch_size: 8,
        shuffle: true,
        drop_last: false,
        seed: 42,
        epoch,
        threads: 2,
        prefetch: 2,
        num_classes: 10,
    }
}

#[test]
fn every_index_once_per_epoch_in_a_seeded_order() {
    let ds = dataset(37, 8);
    let batches: Vec<_> = Loader::new(ds.clone(), Arc::new(Policy::None), config(0)).collect();
    assert_eq!(batches.len(), 5);
    assert_eq!(batches.last().unwrap().n, 5);
    let mut seen: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
    assert_eq!(seen, epoch_order(37, 42, 0, true));
    for b in &batches {
        let Images::U8(px) = &b.images else {
            panic!("u8 expected")
        };
        for (k, &i) in b.indices.iter().enumerate() {
            assert_eq!(
                &px[k * 192..(k + 1) * 192],
                ds.image(i),
                "policy none passes images through"
            );
        }
        assert_eq!(
            b.labels,
            Labels::Hard(b.indices.iter().map(|&i| ds.labels[i]).collect())
        );
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..37).collect::<Vec<_>>());
    assert_ne!(epoch_order(37, 42, 0, true), epoch_order(37, 42, 1, true));
    assert_eq!(epoch_order(5, 42, 3, false), [0, 1, 2, 3, 4]);
    let dropped: Vec<_> = Loader::new(
        ds,
        Arc::new(Policy::None),
        LoaderConfig {
            drop_last: true,
            ..config(0)
        },
    )
    .collect();
    assert_eq!(dropped.len(), 4);
}

#[test]
fn augmented_batches_are_deterministic_and_epochs_differ() {
    let ds = dataset(20, 32);
    let policy = Arc::new(Policy::Augmix(AugMix::default()));
    let a: Vec<_> = Loader::new(ds.clone(), policy.clone(), config(3)).collect();
    let b: Vec<_> = Loader::new(
        ds.clone(),
        policy.clone(),
        LoaderConfig {
            threads: 1,
            prefetch: 1,
            ..config(3)
        },
    )
    .collect();
    assert_eq!(a, b, "thread count and prefetch do not change the bytes");
    let c: Vec<_> = Loader::new(ds, policy, config(4)).collect();
    assert_ne!(a, c);
}

#[test]
fn cutmix_mixup_gives_float_batches_and_soft_labels() {
    let ds = dataset(24, 16);
    for b in Loader::new(
        ds,
        Arc::new(Policy::CutmixMixup(CutmixMixup::default())),
        config(0),
    ) {
        let Images::F32(px) = &b.images else {
            panic!("f32 expected")
        };
        assert_eq!(px.len(), b.n * 3 * 16 * 16);
        assert!(px.iter().all(|v| (0.0..=255.0).contains(v)));
        let Labels::Soft(soft) = &b.labels else {
            panic!("soft labels expected")
        };
        assert_eq!(soft.len(), b.n * 10);
        for row in soft.chunks(10) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn dropping_early_stops_the_workers() {
    let ds = dataset(400, 32);
    let mut loader = Loader::new(
        ds,
        Arc::new(Policy::Augmix(AugMix::default())),
        LoaderConfig {
            batch_size: 4,
            ..config(0)
        },
    );
    assert!(loader.next().is_some());
    let start = std::time::Instant::now();
    drop(loader);
    assert!(
        start.elapsed().as_secs() < 5,
        "drop waited {:?}",
        start.elapsed()
    );
}
