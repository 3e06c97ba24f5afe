//! TypeScript types generated from a schema, for the React side: `Doc<"beneficiaries">`,
//! `Id<"users">`, `Insert<…>`, `Patch<…>`, enums as string-literal unions.
//!
//! An app's codegen binary calls [`generate`] and writes the module where its front end
//! imports it (the reference app: `cargo run -p roomsync-ngo-app --bin codegen`, with a
//! `--check` the test command runs).

use crate::model::schema::{Schema, TableDef};
use crate::model::validator::{Literal, Validator};
use std::fmt::Write;

/// The whole generated module; `regenerate_with` is the command its header tells readers
/// to run after changing the schema.
pub fn generate(schema: &Schema, regenerate_with: &str) -> String {
    let mut out = String::new();
    let hash = schema.hash();
    let _ = write!(
        out,
        r#"// Generated from the Rust schema by `{regenerate_with}`. Do not edit.
// A test fails when this file is stale.

/** Hash of the schema these types were generated from (sent in the handshake). */
export const schemaHash = "{hash}";

/** An id of a document in table `T`: a 30-character URL-safe string at runtime. */
export type Id<T extends string> = string & {{ readonly __tableName: T }};

/** The fields of every table, as written (without system fields). */
export interface Tables {{
"#
    );
    for table in schema.tables() {
        write_table(&mut out, table);
    }
    out.push_str(
        r#"}

export type TableName = keyof Tables;

/** A stored document as a caller gets it: its fields plus the system fields the room sets.
 *  Fields in `RestrictedFields` are absent for roles that may not read them. */
export type Doc<T extends TableName> = Omit<Tables[T], Restricted<T>> &
  Partial<Pick<Tables[T], Restricted<T>>> & { _id: Id<T>; _creationTime: number };

type Restricted<T extends TableName> = T extends keyof RestrictedFields ? RestrictedFields[T] & keyof Tables[T] : never;

/** What an insert into table `T` takes. */
export type Insert<T extends TableName> = Tables[T];

/** What a patch of a `T` document takes: any subset of its fields. */
export type Patch<T extends TableName> = Partial<Tables[T]>;

/** Every table name, in schema order. */
export const tableNames = [
"#,
    );
    for table in schema.tables() {
        let _ = writeln!(out, "  {:?},", table.name);
    }
    out.push_str("] as const satisfies readonly TableName[];\n");
    out.push_str(
        "\n/** Fields only some roles may read (the schema's field rules). */\nexport interface RestrictedFields {\n",
    );
    for table in schema.tables().iter().filter(|t| !t.field_access.is_empty()) {
        let fields: Vec<String> = table.field_access.keys().map(|f| format!("{f:?}")).collect();
        let _ = writeln!(out, "  {}: {};", table.name, fields.join(" | "));
    }
    out.push_str("}\n");
    out
}

fn write_table(out: &mut String, table: &TableDef) {
    let _ = writeln!(out, "  {}: {{", table.name);
    for (name, validator) in &table.fields {
        write_field(out, name, validator, 2);
    }
    out.push_str("  };\n");
}

fn write_field(out: &mut String, name: &str, validator: &Validator, indent: usize) {
    let pad = "  ".repeat(indent);
    let (optional, inner) = match validator {
        Validator::Optional(inner) => ("?", &**inner),
        other => ("", other),
    };
    let _ = writeln!(out, "{pad}{name}{optional}: {};", ts_type(inner, indent));
}

/// The TypeScript type of a validator. `indent` is the nesting level for object literals.
pub fn ts_type(validator: &Validator, indent: usize) -> String {
    match validator {
        Validator::String => "string".into(),
        Validator::Number => "number".into(),
        Validator::Int64 => "bigint".into(),
        Validator::Boolean => "boolean".into(),
        Validator::Null => "null".into(),
        Validator::Any => "any".into(),
        Validator::Bytes => "ArrayBuffer".into(),
        Validator::Id(table) => format!("Id<{table:?}>"),
        Validator::Literal(Literal::String(s)) => format!("{s:?}"),
        Validator::Literal(Literal::Number(n)) => n.to_string(),
        Validator::Literal(Literal::Int64(i)) => format!("{i}n"),
        Validator::Literal(Literal::Boolean(b)) => b.to_string(),
        Validator::Union(options) => options.iter().map(|o| ts_type(o, indent)).collect::<Vec<_>>().join(" | "),
        Validator::Optional(inner) => format!("{} | undefined", ts_type(inner, indent)),
        Validator::Array(items) => match &**items {
            Validator::Union(_) | Validator::Optional(_) => {
                format!("({})[]", ts_type(items, indent))
            }
            other => format!("{}[]", ts_type(other, indent)),
        },
        Validator::Record { keys, values } => {
            format!("Record<{}, {}>", ts_type(keys, indent), ts_type(values, indent))
        }
        Validator::Object(fields) => {
            let mut out = String::from("{\n");
            for (name, v) in fields {
                write_field(&mut out, name, v, indent + 1);
            }
            let _ = write!(out, "{}}}", "  ".repeat(indent));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema::{define_schema, table};
    use crate::model::validator::v;

    #[test]
    fn types_read_like_the_schema() {
        let schema = define_schema(
            crate::app::roles::ROLES,
            [
                table("users", [("name", v::string())]),
                table(
                    "donations",
                    [
                        ("currency", v::enumeration(["TRY", "USD"])),
                        ("donor", v::optional(v::id("users"))),
                        ("tags", v::array(v::union([v::string(), v::null()]))),
                        ("meta", v::optional(v::record(v::string(), v::any()))),
                        ("at", v::object([("lat", v::number()), ("note", v::optional(v::string()))])),
                    ],
                ),
            ],
        )
        .unwrap();
        let ts = generate(&schema, "make types");
        for expected in [
            "// Generated from the Rust schema by `make types`. Do not edit.\n",
            "  donations: {\n    currency: \"TRY\" | \"USD\";\n    donor?: Id<\"users\">;\n",
            "    tags: (string | null)[];\n",
            "    meta?: Record<string, any>;\n",
            "    at: {\n      lat: number;\n      note?: string;\n    };\n",
            "export type Doc<T extends TableName> = Omit<Tables[T], Restricted<T>> &",
            "export interface RestrictedFields {\n}\n",
        ] {
            assert!(ts.contains(expected), "missing {expected:?} in\n{ts}");
        }
    }
}
