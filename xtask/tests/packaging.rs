//! A crate that is published may include only files inside its own folder: `cargo package`
//! copies that folder alone, so anything reached with `include_str!("../../..")` is missing
//! from the package (and a `#[cfg(doctest)]` include slips past `cargo package`'s own build).

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The literal paths of every `include_str!` and `include_bytes!` in `text`.
fn included(text: &str) -> Vec<&str> {
    ["include_str!(\"", "include_bytes!(\""]
        .iter()
        .flat_map(|macro_start| text.match_indices(macro_start).map(|(i, m)| i + m.len()))
        .filter_map(|start| Some(&text[start..start + text[start..].find('"')?]))
        .collect()
}

#[test]
fn published_crates_include_only_their_own_files() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut outside = Vec::new();
    for krate in fs::read_dir(&crates).expect("crates/").flatten() {
        let root = krate.path().canonicalize().expect("crate folder");
        let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
        if manifest.contains("publish = false") {
            continue;
        }
        let mut files = Vec::new();
        for dir in ["src", "examples", "benches"] {
            if root.join(dir).is_dir() {
                rust_files(&root.join(dir), &mut files);
            }
        }
        for file in files {
            let text = fs::read_to_string(&file).expect("readable source");
            for path in included(&text) {
                let target = file.parent().expect("in a folder").join(path);
                let inside = target.canonicalize().is_ok_and(|t| t.starts_with(&root));
                if !inside {
                    outside.push(format!("{}: {path}", file.display()));
                }
            }
        }
    }
    assert!(
        outside.is_empty(),
        "published crates include files from outside their folder (move them in, or include them from an unpublished crate such as vitals-testkit): {outside:#?}"
    );
}

#[test]
fn included_paths_are_read_from_both_macros() {
    let text =
        "#[doc = include_str!(\"../README.md\")]\nconst F: &[u8] = include_bytes!(\"../a.ttf\");";
    assert_eq!(included(text), ["../README.md", "../a.ttf"]);
}
