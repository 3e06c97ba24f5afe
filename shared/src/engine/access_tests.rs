//! Field rules at the transaction: no read, write, error or index answer reveals a field the
//! caller's role may not read.

use super::tx::{Caller, Tx};
use super::FnError;
use crate::auth::{Access, Identity, Role};
use crate::engine::environment::TestEnvironment;
use crate::model::schema::{define_schema, table, Schema};
use crate::model::validator::v;
use crate::model::value::Value;
use crate::protocol::ErrorCode;
use crate::storage::sqlite::NativeSql;
use serde_json::json;

/// People with a secret only managers read, unique together with their team, and an index
/// and a search on it.
fn schema() -> Schema {
    define_schema(
        crate::app::roles::ROLES,
        [table("people", [("name", v::string()), ("team", v::string()), ("secret", v::optional(v::string()))])
            .field_access("secret", Access::AtLeast(crate::app::roles::MANAGER))
            .index("by_secret", ["secret"])
            .unique(["team", "secret"])
            .search_index("by_secret_text", "secret", ["team"])
            .search_index("by_name", "name", ["secret"])],
    )
    .unwrap()
}

fn db() -> NativeSql {
    let sql = NativeSql::in_memory().unwrap();
    crate::storage::sql_docs::create_document_tables(&sql).unwrap();
    sql
}

fn caller(role: Role) -> Caller {
    Caller::Client(Some(Identity { subject: role.as_str().into(), role, name: None, expires_at_ms: None }))
}

fn val(j: serde_json::Value) -> Value {
    Value::from_json(&j, "d").unwrap()
}

fn write<T>(
    sql: &NativeSql,
    schema: &Schema,
    env: &mut TestEnvironment,
    who: Caller,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, FnError>,
) -> Result<T, FnError> {
    env.now_ms += 1.0;
    let mut tx = Tx::writer(sql, schema, env).for_caller(who);
    f(&mut tx)
}

#[test]
fn a_role_writes_only_fields_it_reads_and_unique_errors_name_only_what_it_reads() {
    let (sql, schema, mut env) = (db(), schema(), TestEnvironment::new(1.0));
    let a = write(&sql, &schema, &mut env, caller(crate::app::roles::MANAGER), |tx| {
        tx.insert("people", val(json!({"name": "A", "team": "red", "secret": "s1"})))
    })
    .unwrap();
    let b = write(&sql, &schema, &mut env, caller(crate::app::roles::MANAGER), |tx| {
        tx.insert("people", val(json!({"name": "B", "team": "blue", "secret": "s1"})))
    })
    .unwrap();
    // Members may not set the field, on insert, patch or replace.
    for attempt in 0..3 {
        let err = write(&sql, &schema, &mut env, caller(crate::app::roles::MEMBER), |tx| match attempt {
            0 => tx.insert("people", val(json!({"name": "C", "team": "red", "secret": "s1"}))).map(|_| ()),
            1 => tx.patch("people", b.as_str(), val(json!({"secret": "s1"}))),
            _ => tx.replace("people", b.as_str(), val(json!({"name": "B", "team": "blue", "secret": "x"}))),
        })
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden, "{err}");
        assert_eq!(
            err.to_string(),
            "writing people.secret is allowed to the roles manager, admin only; you are signed in as member"
        );
    }
    // A member moving B into A's team collides on (team, secret) through the secret B keeps:
    // refused, without the value or the holder.
    let err = write(&sql, &schema, &mut env, caller(crate::app::roles::MEMBER), |tx| {
        tx.patch("people", b.as_str(), val(json!({"team": "red"})))
    })
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UniqueViolation);
    assert_eq!(err.to_string(), "people.team+secret must be unique: the value is already used by another document");
    assert!(!err.to_string().contains("s1") && !err.to_string().contains(a.as_str()));
    // A manager is told both.
    let err = write(&sql, &schema, &mut env, caller(crate::app::roles::MANAGER), |tx| {
        tx.patch("people", b.as_str(), val(json!({"team": "red"})))
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(r#"people.team+secret must be unique: "red", "s1" is already used by people {a}"#)
    );
}

#[test]
fn indexes_and_searches_on_a_field_the_caller_cannot_read_are_refused() {
    let (sql, schema, mut env) = (db(), schema(), TestEnvironment::new(1.0));
    write(&sql, &schema, &mut env, Caller::System, |tx| {
        tx.insert("people", val(json!({"name": "Ayşe", "team": "red", "secret": "s1"})))
    })
    .unwrap();
    let read = |who: Caller, f: &dyn Fn(&mut Tx<'_>) -> Result<usize, FnError>| {
        let mut tx = Tx::reader(&sql, &schema, None).for_caller(who);
        f(&mut tx)
    };
    let by_index = |tx: &mut Tx<'_>| Ok(tx.query("people").with_index("by_secret").eq("s1").collect()?.len());
    let by_search = |tx: &mut Tx<'_>| Ok(tx.search("people", "by_secret_text", "s1").collect()?.len());
    let by_filter = |tx: &mut Tx<'_>| Ok(tx.search("people", "by_name", "ay").eq("secret", "s1").collect()?.len());
    let by_name = |tx: &mut Tx<'_>| Ok(tx.search("people", "by_name", "ay").collect()?.len());
    for (f, what) in [
        (&by_index as &dyn Fn(&mut Tx<'_>) -> Result<usize, FnError>, "reading people by secret"),
        (&by_search, "searching people by secret"),
        (&by_filter, "searching people by secret"),
    ] {
        let err = read(caller(crate::app::roles::MEMBER), f).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        assert!(err.to_string().starts_with(what), "{err}");
        assert_eq!(read(caller(crate::app::roles::MANAGER), f).unwrap(), 1, "{what}");
    }
    assert_eq!(read(caller(crate::app::roles::MEMBER), &by_name).unwrap(), 1, "the name is readable");
}

#[test]
fn typed_search_text_never_matches_what_the_index_stores_besides_the_words() {
    let (sql, schema, mut env) = (db(), schema(), TestEnvironment::new(1.0));
    for name in ["Ayşe Yılmaz", "Zeynep Kaya", "Mehmet Öz"] {
        write(&sql, &schema, &mut env, Caller::System, |tx| {
            tx.insert("people", val(json!({"name": name, "team": "t"})))
        })
        .unwrap();
    }
    let names = |text: &str| {
        let mut tx = Tx::reader(&sql, &schema, None);
        let mut found: Vec<String> = tx
            .search("people", "by_name", text)
            .collect()
            .unwrap()
            .iter()
            .map(|d| d.fields["name"].as_str().unwrap_or_default().to_string())
            .collect();
        found.sort();
        found
    };
    // Prefixes of what an earlier layout stored as a tag, FTS5 syntax, lone combining marks.
    for text in
        ["z", "zz", "zzi", "zzix", "zzix0", "\u{301}", "\u{363}", "ayşe \u{363}", "\"", "a OR b", "NEAR(a)", "*"]
    {
        let found = names(text);
        let expected: Vec<String> = ["Ayşe Yılmaz", "Mehmet Öz", "Zeynep Kaya"]
            .into_iter()
            .filter(|n| crate::model::text::matches(n, text) && !crate::model::text::words(text).is_empty())
            .map(str::to_string)
            .collect();
        assert_eq!(found, expected, "search {text:?}");
    }
    assert_eq!(names("z"), ["Zeynep Kaya"]);
    assert_eq!(names("öz"), ["Mehmet Öz"]);
}
