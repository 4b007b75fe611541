//! Stage-name patterns: a stage name, or a glob where `*` is any run of
//! characters and `?` any one character; everything else (brackets too) is
//! literal, so `train[resnet50,*]` selects matrix entries. One syntax for
//! input references in pipeline files and stage patterns on the command line.

/// Whether `name` matches `pattern`, where `*` is any run of characters and
/// `?` any one character; everything else (brackets too) is literal.
pub fn glob(pattern: &str, name: &str) -> bool {
    // Stage names are ASCII; bytes spare two allocations per call, which
    // matters when thousands of references are matched against thousands
    // of names.
    if pattern.is_ascii() && name.is_ascii() {
        return glob_units(pattern.as_bytes(), name.as_bytes(), b'*', b'?');
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_units(&p, &n, '*', '?')
}

fn glob_units<T: PartialEq + Copy>(p: &[T], n: &[T], star_unit: T, any: T) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == any || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == star_unit {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == star_unit)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_treat_brackets_literally() {
        assert!(glob("train[resnet50,*]", "train[resnet50,transfer]"));
        assert!(!glob("train[resnet50,*]", "train[vit_b_16,transfer]"));
        assert!(glob("train[*]", "train[a,b]"));
        assert!(glob("t?ain*", "train"));
        assert!(!glob("train", "trains"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        for (p, n, ok) in [
            ("train*", "train[a]", true),
            ("resize", "resize", true),
            ("resize", "resized", false),
            ("*,x]", "a[b,x]", true),
        ] {
            assert_eq!(glob(p, n), ok, "{p} vs {n}");
        }
    }
}
