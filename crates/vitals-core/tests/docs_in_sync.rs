//! `docs/metrics.md` lists exactly the catalogue, so docs and code cannot drift.

const START: &str = "<!-- catalogue:start -->\n";
const END: &str = "<!-- catalogue:end -->";

#[test]
fn metrics_reference_matches_the_catalogue() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/metrics.md");
    let doc = std::fs::read_to_string(path).expect("docs/metrics.md exists");
    let table = doc
        .split_once(START)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(table, _)| table)
        .expect("docs/metrics.md has the catalogue markers");
    assert_eq!(
        table,
        vitals_core::catalogue::markdown_table("health_agent"),
        "docs/metrics.md is out of date: run `cargo xtask docs`"
    );
}
