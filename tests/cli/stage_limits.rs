//! Parameters that would make an in-process kind allocate more than a
//! machine holds, or write outside its directory, are refused by `pipe
//! check` with a hint; and `pipe gc` survives whatever it finds in
//! cache/work.

use crate::common::project::Project;

/// `pipe check` and `pipe run` refuse `yaml` with a located error carrying
/// `message` and `hint`; nothing runs.
fn refused(yaml: &str, message: &str, hint: &str) {
    let p = Project::new();
    p.write("p.yaml", yaml);
    for args in [&["check", "p.yaml"][..], &["run", "p.yaml"]] {
        let out = p.pipe(args);
        out.expect_code(2);
        assert!(
            out.stderr.contains("p.yaml:") && out.stderr.contains(message),
            "{yaml}\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!("hint: {hint}")),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert!(!p.join("results").exists());
}

/// F8: `image_size: 100000` used to pass check, then abort the whole
/// `pipe` (exit 134) when the split's buffer could not be allocated.
#[test]
fn synthetic_sizes_beyond_memory_are_refused_by_check() {
    let hint = "generate fewer or smaller images";
    refused(
        "version: 1\nstages:\n  s:\n    kind: synthetic\n    params: {image_size: 100000}\n",
        "`image_size: 100000` is larger than 4096 pixels",
        hint,
    );
    refused(
        "version: 1\nstages:\n  s:\n    kind: synthetic\n    params: {image_size: 4096, train_per_class: 1, test_per_class: 100}\n",
        "`test_per_class: 100` with `image_size: 4096` makes a split of more than 4 GiB",
        hint,
    );
}

#[test]
fn augment_step_counts_and_kernels_are_bounded() {
    let p = Project::new();
    p.write(
        "p.yaml",
        "version: 1\nstages:\n  a:\n    kind: augment\n    params: {mixture_width: 1000000, chain_depth: 1000000, blur_kernel: 1000001, num_classes: 1000000000}\n",
    );
    let out = p.pipe(&["check", "p.yaml"]);
    out.expect_code(2);
    for msg in [
        "`mixture_width` must be between 1 and 16",
        "`chain_depth` must be -1 or between 1 and 16",
        "`blur_kernel` must be odd, between 1 and 255",
        "`num_classes` must be between 2 and 100000",
    ] {
        assert!(out.stderr.contains(msg), "{msg}\n{}", out.stderr);
    }
}

/// F16: a `filename` that is not a plain file name used to pass check,
/// fail at run and leave a file in cache/work that broke every `pipe gc`.
#[test]
fn download_file_names_that_are_not_plain_names_are_refused_by_check() {
    for (name, what) in [
        ("\".\"", "a directory, not a file name"),
        ("\"..\"", "a directory, not a file name"),
        ("\"\"", "an empty file name"),
        ("a/b", "a path, not a plain file name"),
        ("/etc/passwd", "a path, not a plain file name"),
    ] {
        refused(
            &format!("version: 1\nstages:\n  d:\n    kind: download\n    params:\n      url: /dev/null\n      md5: d41d8cd98f00b204e9800998ecf8427e\n      filename: {name}\n"),
            what,
            "give the downloaded file a plain name",
        );
    }
}

#[test]
fn gc_removes_stray_files_dirs_and_read_only_trees_in_work() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    p.write("p.yaml", "version: 1\nstages:\n  a:\n    kind: cmd\n    params: {run: \"echo a > $PIPE_OUT/a.txt\"}\n");
    p.pipe(&["run", "p.yaml"]).ok();
    p.write("cache/work/stray.part", "half a download");
    p.write("cache/work/strange dir/x/y.txt", "y");
    let locked = p.join("cache/work/strange dir/x");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).expect("chmod");
    std::os::unix::fs::symlink(p.join("p.yaml"), p.join("cache/work/link")).expect("symlink");
    for _ in 0..2 {
        let out = p.pipe(&["gc", "p.yaml"]);
        out.ok();
    }
    let left: Vec<_> = std::fs::read_dir(p.join("cache/work"))
        .expect("work")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(
        p.join("p.yaml").exists(),
        "a symlink's target is not touched"
    );
    p.pipe(&["run", "p.yaml"]).ok();
}
