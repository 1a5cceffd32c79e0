//! JSON Schemas generated from the serde types, so that the published schema
//! (`docs/capture.schema.json`) cannot drift from what is written: `make
//! schema` writes the files, a test fails when they differ from the code.
//!
//! A schema describes what snakescope *writes*: a field that is always written
//! is required, even when the reader would default it when missing; a field
//! written only sometimes (`skip_serializing_if`) is optional. It cannot say
//! that indices point inside `threads`/`frames` or that counts add up: the
//! reader checks those (and the Python tests, `tests/python/support/capture.py`).

use crate::capture::{Capture, FORMAT_VERSION};
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::{json, Value};

/// The JSON Schema (draft 2020-12) of what `T` serialises to.
pub fn written_schema<T: JsonSchema>() -> Value {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(RecursiveTransform(unwrap_descriptions))
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// Joins the lines of a doc comment into one (a paragraph break stays).
fn unwrap_descriptions(schema: &mut Schema) {
    if let Some(Value::String(text)) = schema.get_mut("description") {
        let paragraphs: Vec<String> = text
            .split("\n\n")
            .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
            .collect();
        *text = paragraphs.join("\n\n");
    }
}

/// The JSON Schema of a capture, as `docs/capture.schema.json` holds it.
pub fn capture_schema() -> Value {
    let mut schema = written_schema::<Capture>();
    schema["title"] = json!(format!("snakescope capture, version {FORMAT_VERSION}"));
    schema["description"] = json!(
        "What `record` and `run` write with --format json and `report` reads \
         (docs/capture-format.md). Generated from crates/snakescope-model by \
         `make schema`: do not edit by hand. Fields always written are required; \
         the reader also accepts a capture without a field that has a default. \
         A schema cannot say that indices point inside `threads`/`frames`, that \
         stacks are distinct or that a thread's counts add up: the reader and \
         tests/python/support/capture.py check those. Unknown fields are allowed: \
         new fields are added without bumping `version`."
    );
    schema
}

/// The text of a committed schema file: pretty JSON, keys in a stable order,
/// and a final newline.
pub fn schema_text(schema: &Value) -> String {
    format!("{:#}\n", sorted(schema))
}

/// `value` with every object's keys sorted, whatever order the map keeps
/// (serde_json's `preserve_order`, if any crate enables it, keeps insertion order).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::capture_schema;
    use crate::capture::{FORMAT_NAME, FORMAT_VERSION};

    #[test]
    fn fields_always_written_are_required_and_the_others_are_not() {
        let schema = capture_schema();
        let required = |def: &str| -> Vec<String> {
            let list = schema["$defs"][def]["required"].as_array().unwrap();
            list.iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        // `lost_ticks` has a default when read, but is always written.
        assert!(required("Meta").contains(&"lost_ticks".to_owned()));
        assert!(!required("Meta").contains(&"free_threaded".to_owned()));
        assert!(!required("Meta").contains(&"user_s".to_owned()));
        let top = schema["required"].as_array().unwrap();
        assert!(!top.iter().any(|v| v == "memory"));
    }

    #[test]
    fn format_and_version_are_constants() {
        let schema = capture_schema();
        assert_eq!(schema["properties"]["format"]["const"], FORMAT_NAME);
        assert_eq!(schema["properties"]["version"]["const"], FORMAT_VERSION);
    }
}
