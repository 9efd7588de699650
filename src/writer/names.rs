//! Safe file and zip-member names for weight names.
//!
//! Weight names come out of the engine and are untrusted: they may hold `/`, `..`, NUL, newlines,
//! any unicode, or be empty or very long, and two may differ only by case. A `.npy` file name or an
//! `.npz` member name made from one must never leave its folder (or, once unzipped, the folder it
//! is unzipped into), never be hidden or special, and never collide with another, also on
//! case-insensitive file systems (macOS, Windows) and under Windows' reserved device names.
//!
//! The rule, applied to each name in byte order of the names (so the result depends only on the
//! set of names, never on the order they were given in):
//!
//! 1. Keep a name as it is when it is already safe: only ASCII letters, digits and `._-+=@,`, not
//!    starting with `.`, not empty, not a Windows device name (`CON`, `nul.x`, `COM1`, ...), short
//!    enough, and not equal (ignoring ASCII case) to a name already taken or reserved.
//! 2. Otherwise replace every other character by `_` (a leading `.` too), shorten it to fit, and
//!    append `~` and 8 hex digits of a hash of the exact original name. `~` is never kept by rule
//!    1, so a changed name can never equal a kept one. Should that still collide (a hash collision
//!    between two names that also clean to the same text), the hash is taken again with another
//!    seed until it does not.
//!
//! The mapping back to exact names is recorded by the writers (`index.json`, the npz index
//! member), so nothing is lost by a change.

use std::collections::HashSet;

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Longest file name produced, in bytes, suffix included: well under the 255-byte limit of common
/// file systems, leaving room for tools that add their own suffixes.
pub const MAX_COMPONENT_BYTES: usize = 200;

/// Marks a changed name; never kept in a name by [`is_kept_char`].
const CHANGED_MARK: char = '~';
/// `~` plus 8 hex digits.
const HASH_LEN: usize = 9;

/// Device names Windows reserves in any directory, with any extension, in any case.
const WINDOWS_DEVICES: [&str; 26] = [
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    "CONIN$", "CONOUT$",
];

fn is_kept_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '=' | '@' | ',')
}

fn is_windows_device(base: &str) -> bool {
    let stem = base.split('.').next().unwrap_or(base);
    WINDOWS_DEVICES.iter().any(|d| d.eq_ignore_ascii_case(stem))
}

/// Gives each of `names` a distinct safe path component ending in `suffix`; `result[i]` belongs
/// to `names[i]`. `suffix` (like `.npy`) must itself be safe; `reserved` are components already
/// taken (compared ignoring ASCII case), such as an index file's name.
pub fn assign(names: &[&str], suffix: &str, reserved: &[&str]) -> Vec<String> {
    debug_assert!(
        suffix.chars().all(is_kept_char) && suffix.len() + HASH_LEN + 1 < MAX_COMPONENT_BYTES
    );
    let mut taken: HashSet<String> = reserved.iter().map(|r| r.to_ascii_lowercase()).collect();
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].as_bytes().cmp(names[b].as_bytes()).then(a.cmp(&b)));

    let mut out = vec![String::new(); names.len()];
    for i in order {
        let name = names[i];
        let component = match kept_as_is(name, suffix) {
            Some(c) if !taken.contains(&c.to_ascii_lowercase()) => c,
            _ => changed(name, suffix, &taken),
        };
        taken.insert(component.to_ascii_lowercase());
        out[i] = component;
    }
    out
}

/// `name + suffix` when rule 1 allows it (collisions aside).
fn kept_as_is(name: &str, suffix: &str) -> Option<String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(is_kept_char)
        && !is_windows_device(name)
        && name.len() + suffix.len() <= MAX_COMPONENT_BYTES;
    ok.then(|| format!("{name}{suffix}"))
}

fn changed(name: &str, suffix: &str, taken: &HashSet<String>) -> String {
    let mut base: String = name
        .chars()
        .map(|c| if is_kept_char(c) { c } else { '_' })
        .collect();
    if base.starts_with('.') {
        base.replace_range(0..1, "_");
    }
    // `con.weight` stays a device name whatever follows its first dot.
    if is_windows_device(&base) {
        base.insert(0, '_');
    }
    // The mark and hash follow the stem directly, so `CON` becomes `CON~1234abcd`: no longer a
    // device name. The base is ASCII, so cutting at any byte keeps it valid UTF-8.
    base.truncate(MAX_COMPONENT_BYTES - suffix.len() - HASH_LEN);
    (0u64..)
        .map(|seed| {
            let h = xxh3_64_with_seed(name.as_bytes(), seed) as u32;
            format!("{base}{CHANGED_MARK}{h:08x}{suffix}")
        })
        .find(|c| !taken.contains(&c.to_ascii_lowercase()))
        .expect("an endless sequence of seeds finds a free name")
}

/// Gives each of `names` an `.npz` member name: `name + ".npy"`, so that NumPy's `np.load(f).files`
/// lists the weight names exactly, whenever that member is safe to extract ([`is_safe_member`]):
/// `onnx::MatMul_325`, unicode, `a/b` (a folder inside the extraction) are kept. Only a name that
/// could escape or break an extraction (absolute, `..` or `.` or empty components, a trailing `/`,
/// `\`, a drive letter, NUL or other control characters, a component too long for a file system,
/// or a member that would also have to be a folder of another) is changed as [`assign`] changes
/// names; the writer records the change. Depends only on the set of names.
pub fn assign_members(names: &[&str], suffix: &str) -> Vec<String> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].as_bytes().cmp(names[b].as_bytes()).then(a.cmp(&b)));
    let kept: Vec<Option<String>> = names
        .iter()
        .map(|n| is_safe_member(n, suffix).then(|| format!("{n}{suffix}")))
        .collect();
    // Folders the kept members need: a member equal to one would be both a file and a folder.
    let folders: HashSet<&str> = kept
        .iter()
        .flatten()
        .flat_map(|m| m.match_indices('/').map(move |(i, _)| &m[..i]))
        .collect();
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = vec![String::new(); names.len()];
    let mut change = Vec::new();
    for &i in &order {
        match &kept[i] {
            Some(m) if !folders.contains(m.as_str()) && !taken.contains(m) => {
                taken.insert(m.clone());
                out[i] = m.clone();
            }
            _ => change.push(i),
        }
    }
    // Changed names are compared ignoring case, as `changed` does; kept ones exactly.
    let mut taken_lower: HashSet<String> = taken.iter().map(|t| t.to_ascii_lowercase()).collect();
    for i in change {
        let c = changed(names[i], suffix, &taken_lower);
        taken_lower.insert(c.to_ascii_lowercase());
        out[i] = c;
    }
    out
}

/// Whether `name + suffix` is a zip member that extracts safely inside the folder extracted into,
/// on Unix and Windows: relative, components not empty, `.` or `..`, no `\`, no drive letter, no
/// control characters, every component at most [`MAX_COMPONENT_BYTES`] bytes.
pub fn is_safe_member(name: &str, suffix: &str) -> bool {
    let member = format!("{name}{suffix}");
    let drive = {
        let b = name.as_bytes();
        b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
    };
    !name.is_empty()
        && !drive
        && !name.chars().any(|c| c.is_control() || c == '\\')
        && member
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && c.len() <= MAX_COMPONENT_BYTES)
}

/// Whether `c` is a component [`assign`] could have produced: for tests and for checking a folder
/// before replacing it.
pub fn is_safe_component(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= MAX_COMPONENT_BYTES
        && !c.starts_with('.')
        && c.chars().all(|ch| is_kept_char(ch) || ch == CHANGED_MARK)
        && !is_windows_device(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(name: &str) -> String {
        assign(&[name], ".npy", &[]).remove(0)
    }

    #[test]
    fn safe_names_are_kept() {
        for n in ["model.layers.0.weight", "conv1_w", "a-b+c=d@e,f", "X"] {
            assert_eq!(one(n), format!("{n}.npy"));
        }
    }

    #[test]
    fn hostile_names_are_changed_and_marked() {
        for n in [
            "",
            ".",
            "..",
            "../../etc/passwd",
            "/abs",
            "a/b",
            "a\\b",
            "a\0b",
            "a\nb",
            ".hidden",
            "onnx::Conv_12",
            "名前",
            "CON",
            "con.weight",
            "lpt1",
            "a b",
            "a~b",
            "a*b?c\"<>|",
        ] {
            let c = one(n);
            assert!(is_safe_component(&c), "{n:?} -> {c:?}");
            assert!(
                c.contains('~'),
                "{n:?} -> {c:?} should be marked as changed"
            );
            assert!(c.ends_with(".npy"));
        }
        assert!(one("../x").starts_with("_._x~"));
    }

    #[test]
    fn long_names_are_cut_to_the_limit() {
        let long = "w".repeat(10_000);
        let c = one(&long);
        assert_eq!(c.len(), MAX_COMPONENT_BYTES);
        assert!(is_safe_component(&c));
        let fits = "w".repeat(MAX_COMPONENT_BYTES - 4);
        assert_eq!(one(&fits), format!("{fits}.npy"));
        // Long multi-byte names are cut on the cleaned (ASCII) text, so never inside a character.
        assert!(is_safe_component(&one(&"é".repeat(500))));
    }

    #[test]
    fn case_collisions_and_reserved_names_are_resolved() {
        let got = assign(&["Weight", "weight", "WEIGHT"], ".npy", &[]);
        assert_eq!(
            got[2], "WEIGHT.npy",
            "the first in byte order keeps its name"
        );
        let lower: HashSet<_> = got.iter().map(|c| c.to_ascii_lowercase()).collect();
        assert_eq!(lower.len(), 3);
        let got = assign(
            &["__trt_dump_index__", "__TRT_DUMP_INDEX__"],
            ".npy",
            &["__trt_dump_index__.npy"],
        );
        assert!(got.iter().all(|c| c.contains('~')), "{got:?}");
    }

    #[test]
    fn a_changed_name_never_takes_a_kept_name() {
        // "a/b" cleans to "a_b", which is also a safe name of its own.
        let got = assign(&["a/b", "a_b"], ".npy", &[]);
        assert_eq!(got[1], "a_b.npy");
        assert_ne!(got[0], got[1]);
    }

    #[test]
    fn npz_members_keep_every_safe_name_verbatim() {
        let names = [
            "onnx::MatMul_325",
            "名前",
            "a/b",
            "Weight",
            "weight",
            "x~y",
            "with space",
        ];
        let got = assign_members(&names, ".npy");
        for (n, m) in names.iter().zip(&got) {
            assert_eq!(*m, format!("{n}.npy"));
        }
        for bad in [
            "", "/abs", "../x", "a/../b", "a//b", "../..", "a\0b", "a\nb", "a\\b", "C:x", "a\u{7f}",
        ] {
            let m = assign_members(&[bad], ".npy").remove(0);
            assert!(is_safe_component(&m) && m.contains('~'), "{bad:?} -> {m:?}");
        }
        // A member that would also have to be a folder of another is changed.
        let got = assign_members(&["a.npy/b", "a"], ".npy");
        assert_eq!(got[0], "a.npy/b.npy");
        assert_ne!(got[1], "a.npy");
    }

    fn hostile_string() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9._/\\\\:~ \\x00\\n-]{0,12}",
            prop::collection::vec(
                prop_oneof![
                    Just("..".to_string()),
                    Just("/".to_string()),
                    Just(".".to_string()),
                    Just("\0".to_string()),
                    Just("CON".to_string()),
                    Just("é".to_string()),
                    Just("w".repeat(120)),
                    Just("~".to_string()),
                    "[a-zA-Z]{1,3}".prop_map(String::from)
                ],
                0..6
            )
            .prop_map(|v| v.concat()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn results_are_safe_unique_and_order_independent(
            names in prop::collection::vec(hostile_string(), 0..40),
            rot in 0usize..40,
        ) {
            // Weight names are distinct; duplicates would make "same name" ambiguous below.
            let mut distinct = HashSet::new();
            let refs: Vec<&str> =
                names.iter().map(String::as_str).filter(|n| distinct.insert(*n)).collect();
            let got = assign(&refs, ".npy", &["index.json", "__trt_dump_index__.npy"]);
            let mut seen = HashSet::new();
            for (n, c) in refs.iter().zip(&got) {
                prop_assert!(is_safe_component(c), "{:?} -> {:?}", n, c);
                prop_assert!(c != "." && c != ".." && !c.contains('/') && !c.contains('\\'));
                prop_assert!(c.ends_with(".npy"));
                prop_assert!(seen.insert(c.to_ascii_lowercase()), "duplicate {:?}", c);
                prop_assert!(!c.eq_ignore_ascii_case("__trt_dump_index__.npy"));
                // Kept exactly, or visibly changed.
                let kept = format!("{n}.npy");
                prop_assert!(*c == kept || c.contains('~'), "{:?} -> {:?}", n, c);
                // A single path component, also to the standard library.
                let p = std::path::Path::new(c.as_str());
                prop_assert_eq!(p.components().count(), 1);
                prop_assert!(matches!(p.components().next(), Some(std::path::Component::Normal(_))));
            }
            // The same set in another order gets the same names.
            if !refs.is_empty() {
                let k = rot % refs.len();
                let mut rotated = refs.clone();
                rotated.rotate_left(k);
                let got2 = assign(&rotated, ".npy", &["index.json", "__trt_dump_index__.npy"]);
                let mut expect = got.clone();
                expect.rotate_left(k);
                prop_assert_eq!(got2, expect);
            }
        }
    }
}
