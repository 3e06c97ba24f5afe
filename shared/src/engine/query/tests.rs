use super::*;
use crate::engine::environment::TestEnvironment;
use crate::engine::read_set::{SubscriptionIndex, WriteSet};
use crate::engine::Tx;
use crate::model::schema::{define_schema, table, Schema};
use crate::model::validator::v;
use crate::protocol::ErrorCode;
use crate::storage::sqlite::NativeSql;
use crate::storage::Sql;
use serde_json::json;

fn schema() -> Schema {
    define_schema(
        crate::app::roles::ROLES,
        [table(
            "people",
            [("name", v::string()), ("city", v::string()), ("age", v::number()), ("email", v::optional(v::string()))],
        )
        .index("by_city", ["city"])
        .index("by_city_age", ["city", "age"])
        .unique(["email"])],
    )
    .unwrap()
}

struct Db {
    sql: NativeSql,
    schema: Schema,
    env: TestEnvironment,
}

impl Db {
    fn new() -> Self {
        let sql = NativeSql::in_memory().unwrap();
        crate::storage::sql_docs::create_document_tables(&sql).unwrap();
        Self { sql, schema: schema(), env: TestEnvironment::new(1000.0) }
    }

    fn write<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, FnError>) -> Result<(T, WriteSet), FnError> {
        self.env.now_ms += 1.0;
        let env = &mut self.env;
        let (sql, schema) = (&self.sql, &self.schema);
        sql.atomically(|| {
            let mut tx = Tx::writer(sql, schema, env);
            let out = f(&mut tx)?;
            Ok((out, tx.finish().1))
        })
    }

    fn insert(&mut self, name: &str, city: &str, age: f64) -> String {
        let doc = json!({"name": name, "city": city, "age": age});
        self.write(|tx| tx.insert("people", Value::from_json(&doc, "d").unwrap())).unwrap().0.to_string()
    }

    fn read<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, FnError>) -> (T, crate::engine::ReadSet) {
        let mut tx = Tx::reader(&self.sql, &self.schema, None);
        let out = f(&mut tx).unwrap();
        (out, tx.finish().0)
    }
}

fn names(docs: &[Document]) -> Vec<String> {
    docs.iter().map(|d| d.fields["name"].as_str().unwrap_or_default().to_string()).collect()
}

fn seeded() -> Db {
    let mut db = Db::new();
    for (name, city, age) in
        [("Ayşe", "Ankara", 30.0), ("Mehmet", "İzmir", 40.0), ("Zeynep", "Ankara", 25.0), ("Ali", "Bursa", 35.0)]
    {
        db.insert(name, city, age);
    }
    db
}

#[test]
fn default_order_is_creation_time_both_ways() {
    let db = seeded();
    let (asc, _) = db.read(|tx| tx.query("people").collect());
    assert_eq!(names(&asc), ["Ayşe", "Mehmet", "Zeynep", "Ali"]);
    let (desc, _) = db.read(|tx| tx.query("people").order(Order::Desc).take(2));
    assert_eq!(names(&desc), ["Ali", "Zeynep"]);
}

#[test]
fn eq_prefix_and_range_bounds() {
    let db = seeded();
    let (ankara, _) = db.read(|tx| tx.query("people").with_index("by_city").eq("Ankara").collect());
    assert_eq!(names(&ankara), ["Ayşe", "Zeynep"]);
    let (by_age, _) = db.read(|tx| tx.query("people").with_index("by_city_age").eq("Ankara").collect());
    assert_eq!(names(&by_age), ["Zeynep", "Ayşe"]);
    let (older, _) = db.read(|tx| tx.query("people").with_index("by_city_age").eq("Ankara").gt(25.0).collect());
    assert_eq!(names(&older), ["Ayşe"]);
    let (range, _) =
        db.read(|tx| tx.query("people").with_index("by_city_age").eq("Ankara").gte(25.0).lte(30.0).collect());
    assert_eq!(names(&range), ["Zeynep", "Ayşe"]);
    let (cities, _) = db.read(|tx| tx.query("people").with_index("by_city").gte("B").lt("J").collect());
    assert_eq!(names(&cities), ["Ali"]); // "İzmir" sorts after "J" bytewise
    let (first, _) = db.read(|tx| tx.query("people").with_index("by_city").eq("Bursa").first());
    assert_eq!(first.map(|d| names(&[d])), Some(vec!["Ali".to_string()]));
    let (filtered, _) =
        db.read(|tx| tx.query("people").filter(|d| d.get_path("age") > Some(Value::Number(30.0))).collect());
    assert_eq!(names(&filtered), ["Mehmet", "Ali"]);
}

#[test]
fn misuse_of_the_query_api_is_a_named_error() {
    let db = seeded();
    let mut tx = Tx::reader(&db.sql, &db.schema, None);
    let err = tx.query("people").with_index("by_town").collect().unwrap_err();
    assert_eq!(err.to_string(), r#"bad query: table people has no index named "by_town""#);
    let err = tx.query("people").with_index("by_city").eq("a").eq("b").collect().unwrap_err();
    assert_eq!(err.to_string(), "bad query: index by_city has 1 field(s); eq() was given once too often");
    let err = tx.query("nope").collect().unwrap_err();
    assert_eq!(err.to_string(), r#"bad query: no table named "nope" in the schema"#);
    let err = tx.query("people").with_index("by_city").eq("Ankara").unique().unwrap_err();
    assert_eq!(err.to_string(), "bad query: unique() found more than one people document");
    let err = tx.insert("people", Value::Null).unwrap_err();
    assert_eq!(err.to_string(), "bad query: a query cannot write: use a mutation");
}

#[test]
fn writes_validate_maintain_indexes_and_enforce_unique_keys() {
    let mut db = seeded();
    let err = db
        .write(|tx| tx.insert("people", Value::from_json(&json!({"name": "x", "city": "y"}), "d").unwrap()))
        .unwrap_err();
    assert_eq!(err.to_string(), "people.age: expected number (required), found nothing: the field is missing");
    let id = db.insert("Elif", "Bursa", 20.0);
    db.write(|tx| tx.patch("people", &id, Value::from_json(&json!({"city": "Ankara", "email": "e@x"}), "p").unwrap()))
        .unwrap();
    let (ankara, _) = db.read(|tx| tx.query("people").with_index("by_city").eq("Ankara").collect());
    assert_eq!(names(&ankara), ["Ayşe", "Zeynep", "Elif"]);
    let (bursa, _) = db.read(|tx| tx.query("people").with_index("by_city").eq("Bursa").collect());
    assert_eq!(names(&bursa), ["Ali"]);

    // A second document with the same email is refused, naming the holder; nothing is written.
    let other = db.insert("Can", "Bursa", 50.0);
    let err = db
        .write(|tx| {
            tx.insert("people", Value::from_json(&json!({"name": "Deniz", "city": "Rize", "age": 1}), "d").unwrap())?;
            tx.patch("people", &other, Value::from_json(&json!({"email": "e@x"}), "p").unwrap())
        })
        .unwrap_err();
    assert_eq!(err.to_string(), format!(r#"people.email must be unique: "e@x" is already used by people {id}"#));
    let (all, _) = db.read(|tx| tx.query("people").collect());
    assert!(!names(&all).contains(&"Deniz".to_string()), "the whole mutation rolled back");

    db.write(|tx| tx.delete("people", &id)).unwrap();
    let (ankara, _) = db.read(|tx| tx.query("people").with_index("by_city").eq("Ankara").collect());
    assert_eq!(names(&ankara), ["Ayşe", "Zeynep"]);
    // The email is free again once its holder is gone.
    db.write(|tx| tx.patch("people", &other, Value::from_json(&json!({"email": "e@x"}), "p").unwrap())).unwrap();
    let err = db.write(|tx| tx.delete("people", &id)).unwrap_err();
    assert_eq!(err.to_string(), format!("people {id} does not exist"));
}

#[test]
fn read_sets_catch_exactly_the_writes_that_matter() {
    let mut db = seeded();
    let mut subs = SubscriptionIndex::default();
    let (_, ankara) = db.read(|tx| tx.query("people").with_index("by_city").eq("Ankara").collect());
    let (_, izmir) = db.read(|tx| tx.query("people").with_index("by_city").eq("İzmir").collect());
    let (_, first_two) = db.read(|tx| tx.query("people").take(2));
    subs.insert("ankara", &ankara);
    subs.insert("izmir", &izmir);
    subs.insert("first_two", &first_two);

    let doc = Value::from_json(&json!({"name": "Yeni", "city": "Ankara", "age": 1}), "d").unwrap();
    let (id, writes) = db.write(|tx| tx.insert("people", doc)).unwrap();
    // A new row is created last: it is outside the first page.
    assert_eq!(subs.affected(&writes).into_iter().collect::<Vec<_>>(), ["ankara"]);

    let move_to_izmir = Value::from_json(&json!({"city": "İzmir"}), "p").unwrap();
    let (_, writes) = db.write(|tx| tx.patch("people", id.as_str(), move_to_izmir)).unwrap();
    assert_eq!(subs.affected(&writes).into_iter().collect::<Vec<_>>(), ["ankara", "izmir"]);

    let (_, get_set) = db.read(|tx| tx.get("people", id.as_str()));
    subs.insert("get", &get_set);
    let (_, writes) = db.write(|tx| tx.delete("people", id.as_str())).unwrap();
    assert_eq!(subs.affected(&writes).into_iter().collect::<Vec<_>>(), ["get", "izmir"]);
}

#[test]
fn cursor_pages_are_gap_free_under_inserts_and_deletes() {
    let mut db = Db::new();
    let ids: Vec<String> = (0..10).map(|i| db.insert(&format!("p{i}"), "X", i as f64)).collect();
    let page = |db: &Db, cursor: Option<String>, journal: Option<String>| {
        let mut tx = Tx::reader(&db.sql, &db.schema, journal);
        let p = tx.query("people").paginate(PageRequest { num_items: 4, cursor }).unwrap();
        let journal = tx.finish().2;
        (p, journal)
    };
    let (p1, j1) = page(&db, None, None);
    assert_eq!(names(&p1.page), ["p0", "p1", "p2", "p3"]);
    assert!(!p1.is_done);
    let (p2, j2) = page(&db, Some(p1.continue_cursor.clone()), None);
    assert_eq!(names(&p2.page), ["p4", "p5", "p6", "p7"]);

    // Rows change: p2 deleted (inside page 1), p5 deleted (inside page 2), one inserted.
    db.write(|tx| tx.delete("people", &ids[2])).unwrap();
    db.write(|tx| tx.delete("people", &ids[5])).unwrap();
    db.insert("late", "X", 99.0);

    // Live re-runs keep their pinned ranges: nothing moves between pages.
    let (p1b, _) = page(&db, None, j1);
    assert_eq!(names(&p1b.page), ["p0", "p1", "p3"]);
    let (p2b, _) = page(&db, Some(p1b.continue_cursor.clone()), j2);
    assert_eq!(names(&p2b.page), ["p4", "p6", "p7"]);
    let (p3, _) = page(&db, Some(p2b.continue_cursor), None);
    assert_eq!(names(&p3.page), ["p8", "p9", "late"]);
    assert!(p3.is_done);
    let err = Tx::reader(&db.sql, &db.schema, None)
        .query("people")
        .paginate(PageRequest { num_items: 1, cursor: Some("!!".into()) })
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Validation, "a tampered cursor is bad input, not a bug");
    assert_eq!(
        err.to_string(),
        "paginationOpts.cursor: expected a cursor returned by an earlier page (or null for the first page), \
         found 2 characters that are not one"
    );
}

#[test]
fn offset_pages_count_everything() {
    let mut db = Db::new();
    for i in 0..300 {
        db.insert(&format!("p{i}"), if i % 3 == 0 { "A" } else { "B" }, i as f64);
    }
    let (page, _) = db.read(|tx| tx.query("people").with_index("by_city").eq("A").offset_page(10, 5));
    assert_eq!(page.total, 100);
    assert_eq!(names(&page.documents), ["p30", "p33", "p36", "p39", "p42"]);
    let (desc, _) = db.read(|tx| tx.query("people").order(Order::Desc).offset_page(0, 3));
    assert_eq!(names(&desc.documents), ["p299", "p298", "p297"]);
    assert_eq!(desc.total, 300);
}
