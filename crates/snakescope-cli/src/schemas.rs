//! The JSON Schemas published in `docs/`, generated from the types that are
//! serialised (the capture's, in `snakescope-model`, and `dump --json`'s) so
//! that they cannot drift from the output: `make schema` writes them
//! (`examples/schema.rs`) and `tests/schema_files.rs` fails when the
//! committed files differ from what the code generates.

use snakescope_model::{capture_schema, schema_text};

/// Each schema file of `docs/`: its name and its text.
pub fn files() -> [(&'static str, String); 2] {
    [
        ("capture.schema.json", schema_text(&capture_schema())),
        (
            "dump.schema.json",
            schema_text(&crate::commands::dump_schema()),
        ),
    ]
}
