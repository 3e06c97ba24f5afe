use super::*;
use crate::model::value::Value;
use serde_json::json;

fn check(validator: &Validator, json: serde_json::Value) -> Result<(), String> {
    let value = Value::from_json(&json, "t").map_err(|e| e.to_string())?;
    validator.check(&value, &Path::root("t")).map_err(|e| e.to_string())
}

fn err(validator: &Validator, json: serde_json::Value) -> String {
    check(validator, json).expect_err("should be refused")
}

#[test]
fn scalars() {
    assert_eq!(check(&v::string(), json!("x")), Ok(()));
    assert_eq!(err(&v::string(), json!(1)), "t: expected string, found number 1");
    assert_eq!(err(&v::number(), json!("1")), r#"t: expected number, found string "1""#);
    assert_eq!(err(&v::number(), json!({"$int64": "1"})), "t: expected number, found int64 1");
    assert_eq!(check(&v::int64(), json!({"$int64": "-5"})), Ok(()));
    assert_eq!(err(&v::int64(), json!(5)), "t: expected int64, found number 5");
    assert_eq!(err(&v::boolean(), json!("true")), r#"t: expected boolean, found string "true""#);
    assert_eq!(err(&v::null(), json!(0)), "t: expected null, found number 0");
    assert_eq!(check(&v::bytes(), json!({"$bytes": "AQID"})), Ok(()));
    assert_eq!(err(&v::bytes(), json!([1, 2])), "t: expected bytes, found array of 2 items");
    assert_eq!(check(&v::any(), json!({"a": [1, null, {"b": true}]})), Ok(()));
}

#[test]
fn literals_and_enums_list_the_allowed_values() {
    assert_eq!(check(&v::literal("TRY"), json!("TRY")), Ok(()));
    assert_eq!(err(&v::literal("TRY"), json!("try")), r#"t: expected "TRY", found string "try""#);
    assert_eq!(err(&v::literal_number(3.0), json!(4)), "t: expected 3, found number 4");
    assert_eq!(err(&v::literal_bool(true), json!(false)), "t: expected true, found boolean false");
    let currency = v::enumeration(["TRY", "USD", "EUR"]);
    assert_eq!(check(&currency, json!("EUR")), Ok(()));
    assert_eq!(err(&currency, json!("GBP")), r#"t: expected one of "TRY", "USD", "EUR", found string "GBP""#);
}

#[test]
fn unions_report_the_options_or_the_one_object_that_almost_fit() {
    let u = v::union([v::string(), v::number()]);
    assert_eq!(check(&u, json!(1)), Ok(()));
    assert_eq!(err(&u, json!(true)), "t: expected string | number, found boolean true");
    let with_object = v::union([v::string(), v::object([("lat", v::number())])]);
    assert_eq!(err(&with_object, json!({"lat": "x"})), r#"t.lat: expected number, found string "x""#);
}

#[test]
fn ids_must_be_of_the_right_table() {
    let user = crate::model::ids::DocumentId::new("users", 7);
    let donation = crate::model::ids::DocumentId::new("donations", 7);
    assert_eq!(check(&v::id("users"), json!(user.as_str())), Ok(()));
    assert_eq!(
        err(&v::id("users"), json!(donation.as_str())),
        "t: expected id of a users document, found an id of a document in another table than users"
    );
    assert_eq!(
        err(&v::id("users"), json!("ayse")),
        r#"t: expected id of a users document, found string "ayse", which is not a document id"#
    );
    assert_eq!(err(&v::id("users"), json!(3)), "t: expected id of a users document, found number 3");
}

#[test]
fn objects_name_missing_and_unknown_fields() {
    let point = v::object([("lat", v::number()), ("lng", v::number()), ("label", v::optional(v::string()))]);
    assert_eq!(check(&point, json!({"lat": 1, "lng": 2})), Ok(()));
    assert_eq!(
        err(&point, json!({"lat": 1})),
        "t.lng: expected number (required), found nothing: the field is missing"
    );
    assert_eq!(
        err(&point, json!({"lat": 1, "lng": 2, "alt": 3})),
        "t.alt: expected no such field (allowed: label, lat, lng), found number 3"
    );
    assert_eq!(
        err(&point, json!({"lat": 1, "lng": 2, "label": null})),
        "t.label: expected string or nothing, found null"
    );
    assert_eq!(err(&point, json!([1, 2])), "t: expected object, found array of 2 items");
}

#[test]
fn arrays_and_records_give_the_element_path() {
    let tags = v::array(v::string());
    assert_eq!(err(&tags, json!(["a", 2])), "t[1]: expected string, found number 2");
    let many: Vec<serde_json::Value> = (0..MAX_ARRAY_LENGTH + 1).map(|_| json!(0)).collect();
    assert_eq!(
        err(&v::array(v::number()), json!(many)),
        "t: expected an array of at most 8192 items, found 8193 items"
    );
    let meta = v::record(v::string(), v::number());
    assert_eq!(check(&meta, json!({"a": 1, "b": 2})), Ok(()));
    assert_eq!(err(&meta, json!({"a": "x"})), r#"t.a: expected number, found string "x""#);
    let keyed = v::record(v::enumeration(["x", "y"]), v::any());
    assert_eq!(err(&keyed, json!({"z": 1})), r#"t.z: expected a key that is one of "x", "y", found string "z""#);
    assert_eq!(
        err(&meta, json!({"": 1})),
        r#"t.: expected a field name of 1 to 1024 bytes not starting with '$', found """#
    );
}

#[test]
fn nesting_is_limited_even_inside_any() {
    let mut deep = json!(1);
    for _ in 0..(MAX_NESTING_DEPTH + 2) {
        deep = json!([deep]);
    }
    let message = err(&v::any(), deep);
    assert!(message.ends_with("expected at most 32 levels of nesting, found deeper nesting"), "{message}");
}

#[test]
fn describe_reads_like_the_schema() {
    assert_eq!(v::optional(v::array(v::id("users"))).describe(), "array of id of a users document or nothing");
    assert_eq!(v::record(v::string(), v::any()).describe(), "record of string to any value");
}
