//! Writes the JSON Schemas of `docs/` from the code (`make schema`).

use std::path::Path;

fn main() -> std::io::Result<()> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    for (name, text) in snakescope_cli::schemas::files() {
        std::fs::write(docs.join(name), text)?;
    }
    Ok(())
}
