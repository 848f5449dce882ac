//! `cargo xtask docs`: regenerates the parts of `docs/` written from code: the metrics table
//! and the fleet's topology picture.

use anyhow::{Context, Result, bail};

use crate::workspace_root;

const START: &str = "<!-- catalogue:start -->\n";
const END: &str = "<!-- catalogue:end -->";

/// Rewrites the metrics table of `docs/metrics.md` from the catalogue and draws
/// `docs/images/fleet-topology.png`.
pub fn run() -> Result<()> {
    let path = workspace_root().join("docs/metrics.md");
    let doc = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let Some((head, rest)) = doc.split_once(START) else {
        bail!("{} lacks the marker {START:?}", path.display());
    };
    let Some((_, tail)) = rest.split_once(END) else {
        bail!("{} lacks the marker {END:?}", path.display());
    };
    let table = vitals_core::catalogue::markdown_table("health_agent");
    std::fs::write(&path, format!("{head}{START}{table}{END}{tail}"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    let picture = workspace_root().join("docs/images/fleet-topology.png");
    crate::fleet::topology::draw(&picture)?;
    eprintln!("wrote {}", picture.display());
    Ok(())
}
