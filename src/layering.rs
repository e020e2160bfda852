//! The module map, checked: the top-level modules of the library form the
//! layers of [`LAYERS`], and a module may name (`crate::m`, in a `use` or a
//! path) only itself and the modules listed before it. The test reads every
//! code line of `src/` (comments and doc links are not imports) and fails on
//! a path against that order that is not one of [`KNOWN_BACK_EDGES`], and
//! on a known back edge that is gone (so the list only shrinks). `cli/` and
//! `main.rs`, the binary, sit above every layer.

use std::path::Path;

/// The layers, lowest first (see the crate docs for why this order).
const LAYERS: &[&str] = &[
    "engine",
    "error",
    "input",
    "safeguard",
    "demo",
    "fault",
    "check",
    "playbook",
    "model",
    "record",
    "shard",
    "scenario",
    "program",
    "sweep",
    "report",
];

/// Paths that point up the layers today: `(file under src/, module it
/// names, why it is still there)`. Each is a debt, not a licence: remove
/// the entry with the edge.
const KNOWN_BACK_EDGES: &[(&str, &str, &str)] = &[
    (
        "error.rs",
        "record",
        "Error::io unwraps the path that record::outfile's writers tag their \
         I/O errors with; the tag type belongs beside the writers",
    ),
    (
        "program/year.rs",
        "report",
        "a year refuses to clobber the report files it may write, so it asks \
         report for their names (report::planned_files)",
    ),
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

/// The `crate::NAME` paths of one line of code.
fn crate_paths(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        out.push(&rest[..end]);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn imports_follow_the_layering() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut seen = vec![false; KNOWN_BACK_EDGES.len()];
    for path in &files {
        let rel = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let top = rel.split('/').next().expect("a name");
        let top = top.strip_suffix(".rs").unwrap_or(top);
        let Some(own) = rank(top) else {
            // lib.rs, main.rs, cli/ and this file: above every layer.
            continue;
        };
        let text = std::fs::read_to_string(path).expect("readable");
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for name in crate_paths(line) {
                let Some(theirs) = rank(name) else { continue };
                if theirs <= own {
                    continue;
                }
                match KNOWN_BACK_EDGES
                    .iter()
                    .position(|(f, m, _)| *f == rel && *m == name)
                {
                    Some(k) => seen[k] = true,
                    None => violations.push(format!(
                        "src/{rel}:{}: `{top}` names `crate::{name}`, a higher layer",
                        i + 1
                    )),
                }
            }
        }
    }
    let gone: Vec<_> = KNOWN_BACK_EDGES
        .iter()
        .zip(&seen)
        .filter(|(_, s)| !**s)
        .map(|((f, m, _), _)| format!("src/{f} -> {m}"))
        .collect();
    assert!(
        violations.is_empty(),
        "imports against the layering (see src/layering.rs):\n{}",
        violations.join("\n")
    );
    assert!(
        gone.is_empty(),
        "known back edges that are gone: remove them from KNOWN_BACK_EDGES: {gone:?}"
    );
}

#[test]
fn crate_paths_are_found_in_code() {
    assert_eq!(
        crate_paths("use crate::engine::{A, B}; let x = crate::model::X;"),
        vec!["engine", "model"]
    );
    assert_eq!(
        crate_paths("use chaosim_crate::x; $crate::y"),
        Vec::<&str>::new()
    );
}
