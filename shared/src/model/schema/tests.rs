use super::*;
use crate::model::validator::v;
use serde_json::json;

fn doc(j: Json) -> Value {
    Value::from_json(&j, "doc").unwrap()
}

fn small() -> Schema {
    define_schema(
        crate::app::roles::ROLES,
        [
            table("users", [("name", v::string()), ("email", v::string())])
                .index("by_email", ["email"])
                .unique(["email"]),
            table(
                "donations",
                [
                    ("amount", v::number()),
                    ("currency", v::enumeration(["TRY", "USD", "EUR"])),
                    ("donor", v::optional(v::id("users"))),
                    ("location_coordinates", v::optional(v::object([("lat", v::number()), ("lng", v::number())]))),
                ],
            )
            .index("by_currency_amount", ["currency", "amount"])
            .index("by_lat", ["location_coordinates.lat"]),
        ],
    )
    .unwrap()
}

#[test]
fn valid_documents_pass() {
    let s = small();
    assert_eq!(s.validate_insert("users", &doc(json!({"name": "Ayşe", "email": "a@b.c"}))), Ok(()));
    assert_eq!(
        s.validate_insert(
            "donations",
            &doc(json!({"amount": 5, "currency": "TRY", "location_coordinates": {"lat": 39.9, "lng": 32.8}}))
        ),
        Ok(())
    );
}

#[test]
fn errors_carry_the_full_path() {
    let s = small();
    let err = s
        .validate_insert(
            "donations",
            &doc(json!({"amount": 5, "currency": "TRY", "location_coordinates": {"lat": "north", "lng": 32.8}})),
        )
        .unwrap_err();
    assert_eq!(err.to_string(), r#"donations.location_coordinates.lat: expected number, found string "north""#);
    let err = s.validate_insert("donations", &doc(json!({"amount": 5, "currency": "GBP"}))).unwrap_err();
    assert_eq!(err.to_string(), r#"donations.currency: expected one of "TRY", "USD", "EUR", found string "GBP""#);
    let err = s.validate_insert("users", &doc(json!({"name": "x"}))).unwrap_err();
    assert_eq!(err.to_string(), "users.email: expected string (required), found nothing: the field is missing");
    let err = s.validate_insert("users", &doc(json!({"name": "x", "email": "e", "_id": "abc"}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"users._id: expected no field starting with '_' (system fields are set by the room), found string "abc""#
    );
    let err = s.validate_insert("nope", &doc(json!({}))).unwrap_err();
    assert_eq!(err.to_string(), r#"nope: expected a table of the schema, found no table named "nope""#);
    let err = s.validate_insert("users", &doc(json!([]))).unwrap_err();
    assert_eq!(err.to_string(), "users: expected an object (a document), found array of 0 items");
}

#[test]
fn documents_over_one_mebibyte_are_refused() {
    let s = define_schema(crate::app::roles::ROLES, [table("notes", [("body", v::string())])]).unwrap();
    let big = "x".repeat(MAX_DOCUMENT_BYTES);
    let err = s.validate_insert("notes", &doc(json!({ "body": big }))).unwrap_err();
    assert_eq!(err.to_string(), "notes: expected a document of at most 1048576 bytes (1 MiB), found 1048587 bytes");
}

#[test]
fn definition_errors_are_all_reported_with_hints() {
    let err = define_schema(
        crate::app::roles::ROLES,
        [
            table("users", [("name", v::string()), ("_secret", v::string()), ("bad name", v::string())])
                .index("by_name", ["nmae"])
                .index("by_name", ["name"])
                .index("by_id", ["name"])
                .search_index("search", "missing", ["name"])
                .unique(["email"]),
            table("tasks", [("owner", v::id("people")), ("tags", v::array(v::optional(v::string())))])
                .search_index("by_owner", "owner", Vec::<&str>::new())
                .index("too_wide", (0..17).map(|_| "owner")),
            table("tasks", [("x", v::string())]),
        ],
    )
    .unwrap_err();
    let text = err.to_string();
    for expected in [
        "table tasks: defined twice",
        r#"table users: field name "_secret" is not allowed: use 1 to 64 letters, digits and '_', starting with a letter"#,
        r#"table users: field name "bad name" is not allowed"#,
        r#"table users: index by_name: field "nmae" does not exist (did you mean "name"?)"#,
        r#"table users: index name "by_name" is used twice"#,
        r#"table users: index name "by_id" is reserved for the built-in indexes"#,
        r#"table users: search index search: search field "missing" does not exist"#,
        r#"table users: unique key ["email"]: field "email" does not exist"#,
        r#"table tasks: field owner: id of table "people", which is not in the schema"#,
        "table tasks: field tags[]: optional is only allowed directly on an object field",
        r#"table tasks: search index by_owner: search field "owner" must be a string field, but it is id of a people document"#,
        "table tasks: index too_wide: must have 1 to 16 fields, has 17",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Each problem is structured: where, what, and the hint apart.
    let typo = err.problems.iter().find(|p| p.hint.is_some()).expect("the typo has a hint");
    assert_eq!(
        (typo.table.as_deref(), typo.element.as_deref(), typo.problem.as_str(), typo.hint.as_deref()),
        (Some("users"), Some("index by_name"), r#"field "nmae" does not exist"#, Some(r#"did you mean "name"?"#))
    );
}

#[test]
fn paths_resolve_through_objects_and_system_fields() {
    let s = small();
    let t = s.table("donations").unwrap();
    assert_eq!(t.resolve("location_coordinates.lat"), Some(Validator::Number));
    assert_eq!(t.resolve("_creationTime"), Some(Validator::Number));
    assert_eq!(t.resolve("_id"), Some(Validator::Id("donations".into())));
    assert_eq!(t.resolve("location_coordinates.alt"), None);
    assert_eq!(t.resolve("amount.x"), None);
}

#[test]
fn hash_is_stable_and_changes_with_the_contract() {
    let a = small();
    assert_eq!(a.hash(), small().hash());
    assert_eq!(a.hash().len(), 16);
    let with_index = define_schema(
        crate::app::roles::ROLES,
        a.tables().iter().cloned().map(|t| if t.name == "users" { t.index("by_name", ["name"]) } else { t }),
    )
    .unwrap();
    assert_ne!(a.hash(), with_index.hash());
    let with_unique = define_schema(
        crate::app::roles::ROLES,
        a.tables().iter().cloned().map(|t| if t.name == "users" { t.unique(["name"]) } else { t }),
    )
    .unwrap();
    assert_ne!(a.hash(), with_unique.hash());
    assert_ne!(with_index.hash(), with_unique.hash());
}

#[test]
fn reference_format_round_trip_shape() {
    let j = small().to_json();
    assert_eq!(j["tables"][1]["fields"]["currency"], json!({"type": "enum", "values": ["TRY", "USD", "EUR"]}));
    assert_eq!(j["tables"][1]["fields"]["donor"], json!({"type": "id", "table": "users", "optional": true}));
    assert_eq!(j["tables"][0]["unique"], json!([["email"]]));
}

mod never_panics {
    use super::*;
    use crate::model::value::tests::arb_value;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any value against any table of the reference schema: an answer, never a panic.
        #[test]
        fn arbitrary_documents_get_an_answer(doc in arb_value(), table in 0usize..42) {
            let schema = crate::app::schema();
            let def = &schema.tables()[table];
            let _ = def.validate_insert(&doc);
            let _ = def.validate_insert(&Value::Object(
                def.fields.iter().take(3).map(|(n, _)| (n.clone(), doc.clone())).collect(),
            ));
        }
    }
}

#[test]
fn access_rules_naming_undeclared_tables_or_fields_are_definition_errors() {
    let tables = || {
        vec![
            table("users", [("name", v::string()), ("passwordHash", v::string())]),
            table("donations", [("amount", v::number())]),
        ]
    };
    let admins = |t: TableDef| t.read_access(Access::AtLeast(crate::app::roles::ADMIN));
    let hidden = |t: TableDef| t.field_access("passwrdHash", Access::Nobody);
    let err = define_schema_with_rules(crate::app::roles::ROLES, tables(), &[("donatons", admins), ("users", hidden)])
        .unwrap_err();
    assert_eq!(
        err.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "access rule for table \"donatons\": the schema declares no such table",
            "table users: field access rule: field \"passwrdHash\" does not exist",
        ]
    );
    // Spelled right, each rule lands on its table.
    let hide = |t: TableDef| t.field_access("passwordHash", Access::Nobody);
    let schema =
        define_schema_with_rules(crate::app::roles::ROLES, tables(), &[("donations", admins), ("users", hide)])
            .unwrap();
    assert_eq!(schema.table("donations").map(|t| t.reads()), Some(Access::AtLeast(crate::app::roles::ADMIN)));
    assert_eq!(schema.table("users").and_then(|t| t.field_access.get("passwordHash").copied()), Some(Access::Nobody));
    assert!(
        define_schema(crate::app::roles::ROLES, tables().into_iter().map(hidden)).is_err(),
        "define_schema checks fields too"
    );
}
