//! `synthetic` -> `stl10` round trips, the column-major decoding, and
//! archives that must be refused or reported: path traversal, links,
//! truncation, foreign files, wrong sizes and labels.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use pipe_data::kinds::stl10::KIND as Stl10;
use pipe_data::kinds::synthetic::KIND as Synthetic;
use pipe_data::synthetic::{split, Spec};
use pipe_data::Dataset;
use pipe_engine::{Error, Value};

use super::support::{artifact, run};

const SIDE: usize = 96;

/// A raw member name, its bytes, its entry type and its link target.
type Member = (&'static [u8], Vec<u8>, tar::EntryType, &'static str);
const IMAGE: usize = 3 * SIDE * SIDE;

/// A tar.gz of (raw member name, bytes, entry type, link target).
fn tarball(dir: &Path, members: &[(&[u8], Vec<u8>, tar::EntryType, &str)]) -> PathBuf {
    let path = dir.join("stl10_binary.tar.gz");
    let mut b = tar::Builder::new(GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    ));
    for (name, bytes, ty, link) in members {
        let mut h = tar::Header::new_old();
        // Written raw: the tar crate would refuse to *write* `..` itself.
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(bytes.len() as u64);
        h.set_entry_type(*ty);
        h.set_mode(0o644);
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        h.set_cksum();
        b.append(&h, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
    path
}

fn regular(
    name: &'static str,
    bytes: Vec<u8>,
) -> (&'static [u8], Vec<u8>, tar::EntryType, &'static str) {
    (name.as_bytes(), bytes, tar::EntryType::Regular, "")
}

/// A minimal valid archive: `n` train and test images with labels 1..=10.
fn valid_members(n: usize) -> Vec<(&'static [u8], Vec<u8>, tar::EntryType, &'static str)> {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8 + 1).collect();
    vec![
        regular(
            "stl10_binary/class_names.txt",
            b"airplane\nbird\ncar\ncat\ndeer\ndog\nhorse\nmonkey\nship\ntruck\n".to_vec(),
        ),
        regular("stl10_binary/train_X.bin", vec![7; n * IMAGE]),
        regular("stl10_binary/train_y.bin", labels.clone()),
        regular("stl10_binary/test_X.bin", vec![9; n * IMAGE]),
        regular("stl10_binary/test_y.bin", labels),
    ]
}

fn decode(archive: &Path, dir: &Path) -> Result<pipe_engine::Artifact, Error> {
    let input = artifact("download", archive.parent().unwrap());
    run(&Stl10, &[], &[("archive", &input)], &dir.join("decode"))
}

fn bad_data_text(err: Error) -> String {
    assert!(matches!(err, Error::BadData { .. }), "{err:?}");
    err.to_string()
}

#[test]
fn synthetic_round_trips_through_the_real_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let given = [
        ("seed", Value::Int(5)),
        ("train_per_class", Value::Int(3)),
        ("test_per_class", Value::Int(2)),
        ("task", Value::Int(1)),
    ];
    let archive = run(&Synthetic, &given, &[], &dir.path().join("syn")).unwrap();
    let out = run(
        &Stl10,
        &[],
        &[("archive", &archive)],
        &dir.path().join("dec"),
    )
    .unwrap();
    let train = Dataset::load(out.file("train.safetensors").unwrap()).unwrap();
    let test = Dataset::load(out.file("test.safetensors").unwrap()).unwrap();
    assert_eq!(
        (train.n, train.channels, train.height, train.width),
        (30, 3, 96, 96)
    );
    assert_eq!(test.n, 20);
    for c in 0..10 {
        assert_eq!(train.labels.iter().filter(|&&l| l == c).count(), 3);
    }
    let spec = Spec {
        seed: 5,
        train_per_class: 3,
        test_per_class: 2,
        image_size: 96,
        task: 1,
        noise: 0.1,
    };
    assert_eq!(
        train,
        split(&spec, 0, 3).expect("fits"),
        "decoding undoes the file layout exactly"
    );
    assert_eq!(test, split(&spec, 1, 2).expect("fits"));
    let classes: Vec<String> =
        serde_json::from_slice(&std::fs::read(out.file("classes.json").unwrap()).unwrap()).unwrap();
    assert_eq!(classes.len(), 10);
    // The reference safetensors implementation reads our files unchanged.
    let bytes = std::fs::read(out.file("train.safetensors").unwrap()).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let images = st.tensor("images").unwrap();
    assert_eq!(
        (images.dtype(), images.shape()),
        (safetensors::Dtype::U8, &[30usize, 3, 96, 96][..])
    );
    assert_eq!(images.data(), train.images.as_slice());
    let labels = st.tensor("labels").unwrap();
    assert_eq!(
        (labels.dtype(), labels.shape()),
        (safetensors::Dtype::I64, &[30usize][..])
    );
}

#[test]
fn synthetic_is_seeded() {
    let spec = Spec {
        seed: 1,
        train_per_class: 2,
        test_per_class: 1,
        image_size: 32,
        task: 0,
        noise: 0.1,
    };
    assert_eq!(
        split(&spec, 0, 2).expect("fits"),
        split(&spec, 0, 2).expect("fits")
    );
    assert_ne!(
        split(&spec, 0, 2).expect("fits").images,
        split(
            &Spec {
                seed: 2,
                ..spec.clone()
            },
            0,
            2
        )
        .expect("fits")
        .images
    );
}

#[test]
fn channels_are_decoded_from_column_major() {
    let dir = tempfile::tempdir().unwrap();
    // Byte (c, x, y) of the file = x: after decoding every row reads 0..96.
    let mut image = vec![0u8; IMAGE];
    for c in 0..3 {
        for x in 0..SIDE {
            for y in 0..SIDE {
                image[c * SIDE * SIDE + x * SIDE + y] = x as u8;
            }
        }
    }
    let mut members = valid_members(1);
    members[1].1 = image;
    members[2].1 = vec![10];
    let out = decode(&tarball(dir.path(), &members), dir.path()).unwrap();
    let train = Dataset::load(out.file("train.safetensors").unwrap()).unwrap();
    let row: Vec<u8> = (0..SIDE as u8).collect();
    assert_eq!(&train.images[5 * SIDE..6 * SIDE], row.as_slice());
    assert_eq!(
        &train.images[2 * SIDE * SIDE + 95 * SIDE..2 * SIDE * SIDE + 96 * SIDE],
        row.as_slice()
    );
    assert_eq!(train.labels, [9], "label 10 becomes class 9");
}

#[test]
fn traversal_absolute_paths_and_links_are_refused() {
    let cases: Vec<(&str, Member)> = vec![
        (
            "..",
            (
                b"stl10_binary/../../evil.txt",
                b"x".to_vec(),
                tar::EntryType::Regular,
                "",
            ),
        ),
        (
            "absolute",
            (b"/tmp/evil.txt", b"x".to_vec(), tar::EntryType::Regular, ""),
        ),
        (
            "link",
            (
                b"stl10_binary/train_X.bin",
                Vec::new(),
                tar::EntryType::Symlink,
                "/etc/passwd",
            ),
        ),
        (
            "link",
            (
                b"stl10_binary/other",
                Vec::new(),
                tar::EntryType::Link,
                "../x",
            ),
        ),
    ];
    for (what, evil) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut members = vec![evil];
        members.extend(valid_members(2));
        let text = bad_data_text(decode(&tarball(dir.path(), &members), dir.path()).unwrap_err());
        assert!(
            text.contains("refused") && text.contains(what),
            "{what}: {text}"
        );
        assert!(!dir.path().join("evil.txt").exists());
    }
}

#[test]
fn truncated_and_foreign_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = tarball(dir.path(), &valid_members(3));
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&good, &bytes[..bytes.len() / 2]).unwrap();
    let text = bad_data_text(decode(&good, dir.path()).unwrap_err());
    assert!(text.contains("stl10_binary.tar.gz"), "{text}");

    let foreign = tempfile::tempdir().unwrap();
    std::fs::write(
        foreign.path().join("stl10_binary.tar.gz"),
        "<html>not found</html>".repeat(50),
    )
    .unwrap();
    let text = bad_data_text(
        decode(&foreign.path().join("stl10_binary.tar.gz"), foreign.path()).unwrap_err(),
    );
    assert!(text.contains("stl10_binary.tar.gz"), "{text}");
}

#[test]
fn wrong_sizes_labels_and_missing_members_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut members = valid_members(2);
    members[1].1.pop();
    let text = bad_data_text(decode(&tarball(dir.path(), &members), dir.path()).unwrap_err());
    assert!(
        text.contains("train_X.bin") && text.contains(&(2 * IMAGE).to_string()),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut members = valid_members(2);
    members[4].1[1] = 11;
    let text = bad_data_text(decode(&tarball(dir.path(), &members), dir.path()).unwrap_err());
    assert!(
        text.contains("test_y.bin") && text.contains("label 11"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut members = valid_members(2);
    members.remove(3);
    let text = bad_data_text(decode(&tarball(dir.path(), &members), dir.path()).unwrap_err());
    assert!(text.contains("test_X.bin"), "{text}");
}
