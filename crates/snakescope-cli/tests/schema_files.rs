//! The committed JSON Schemas (`docs/*.schema.json`) are what the code
//! generates: a field added to the capture or to `dump --json` without
//! regenerating them fails here.

use std::path::Path;

#[test]
fn committed_schemas_match_the_code() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    for (name, generated) in snakescope_cli::schemas::files() {
        let path = docs.join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read `{}`: {e}\nhint: run `make schema`",
                path.display()
            )
        });
        if let Some(line) = first_difference(&committed, &generated) {
            panic!(
                "`docs/{name}` differs from the schema the code generates (from line {line})\n\
                 hint: run `make schema`"
            );
        }
    }
}

/// The first line (from 1) where `a` and `b` differ; `None` when they are equal.
fn first_difference(a: &str, b: &str) -> Option<usize> {
    if a == b {
        return None;
    }
    let same = a.lines().zip(b.lines()).take_while(|(x, y)| x == y).count();
    Some(same + 1)
}
