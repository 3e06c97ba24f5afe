//! The Rust definition of the reference schema must match the reference data exactly:
//! every table, field (with its full validator), index and search index — nothing missing,
//! nothing extra.

use roomsync_ngo_app as app;
use serde_json::{json, Value};

const FIXTURE: &str = include_str!("fixtures/kafkasder-schema.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("fixture is JSON")
}

fn by_name(items: &Value) -> Vec<(String, &Value)> {
    items.as_array().expect("array").iter().map(|i| (i["name"].as_str().unwrap_or_default().to_string(), i)).collect()
}

#[test]
fn the_reference_app_is_valid() {
    if let Err(e) = app::define() {
        panic!("{e}");
    }
}

#[test]
fn rust_schema_matches_the_reference_table_by_table() {
    let expected = fixture();
    let actual = app::schema().to_json();
    let expected_tables = by_name(&expected["tables"]);
    let actual_tables = by_name(&actual["tables"]);
    let expected_names: Vec<&String> = expected_tables.iter().map(|(n, _)| n).collect();
    let actual_names: Vec<&String> = actual_tables.iter().map(|(n, _)| n).collect();
    assert_eq!(actual_names, expected_names, "tables (in order)");

    for ((name, want), (_, got)) in expected_tables.iter().zip(&actual_tables) {
        let want_fields = want["fields"].as_object().expect("fields");
        let got_fields = got["fields"].as_object().expect("fields");
        for (field, validator) in want_fields {
            assert_eq!(got_fields.get(field), Some(validator), "{name}.{field}");
        }
        for field in got_fields.keys() {
            assert!(want_fields.contains_key(field), "{name}.{field} is not in the reference");
        }
        assert_eq!(got["indexes"], want["indexes"], "{name}: indexes");
        let want_search: Vec<Value> = want["search_indexes"]
            .as_array()
            .expect("search_indexes")
            .iter()
            .map(|s| {
                json!({
                    "name": s["name"],
                    "searchField": s["searchField"],
                    "filterFields": s.get("filterFields").cloned().unwrap_or(json!([])),
                })
            })
            .collect();
        assert_eq!(got["search_indexes"], Value::Array(want_search), "{name}: search indexes");
    }
}

#[test]
fn reference_counts_and_unique_keys() {
    let schema = app::schema();
    let tables = schema.tables();
    assert_eq!(tables.len(), 42);
    assert_eq!(tables.iter().map(|t| t.fields.len()).sum::<usize>(), 537);
    assert_eq!(tables.iter().map(|t| t.indexes.len()).sum::<usize>(), 125);
    assert_eq!(tables.iter().map(|t| t.search_indexes.len()).sum::<usize>(), 7);
    let uniques: Vec<String> = tables
        .iter()
        .flat_map(|t| t.uniques.iter().map(move |u| format!("{}.{}", t.name, u.fields.join("+"))))
        .collect();
    assert_eq!(uniques, ["users.email", "beneficiaries.tc_no", "donations.receipt_number"]);
}

#[test]
fn generated_typescript_is_up_to_date() {
    let committed = include_str!("../../../www/src/generated/schema.ts");
    let (path, command) = (app::TYPESCRIPT_PATH, app::CODEGEN_COMMAND);
    assert!(committed == app::typescript(), "{path} is stale: run `{command}`");
}
