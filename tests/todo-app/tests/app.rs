//! The to-do app through the generic room engine, natively: its functions, its own roles
//! (guest < editor < owner) and its field rule, with signed tokens as the worker checks them.

use roomsync_shared::auth::{sign, Claims, TokenVerifier};
use roomsync_shared::engine::environment::TestEnvironment;
use roomsync_shared::protocol::{ErrorCode, MutationOutcome, ServerMessage};
use roomsync_shared::room::AuthPolicy;
use roomsync_shared::storage::sqlite::NativeSql;
use roomsync_shared::{ConnId, Room, RoomInput};
use serde_json::{json, Value as Json};

const NOW: f64 = 1_800_000_000_000.0;
const SECRET: &[u8] = b"todo-test-secret";

struct Lists {
    room: Room<NativeSql>,
    env: TestEnvironment,
    request: u32,
}

impl Lists {
    fn new() -> Self {
        let room = roomsync_todo_app::open_room(NativeSql::in_memory().unwrap())
            .unwrap()
            .with_auth(AuthPolicy::Tokens(TokenVerifier::new(SECRET, "home", roomsync_todo_app::ROLES)));
        Self { room, env: TestEnvironment::new(NOW), request: 0 }
    }

    fn frame(&mut self, conn: &ConnId, msg: Json) -> Vec<roomsync_shared::Outgoing> {
        self.env.now_ms += 1.0;
        self.room.handle(RoomInput::Frame { conn, text: &msg.to_string() }, &mut self.env)
    }

    /// A socket signed in with `role` (or refused: the refusal's text).
    fn sign_in(&mut self, name: &str, role: &str) -> Result<ConnId, String> {
        let conn = ConnId::from_stored(name.to_string());
        self.room.handle(RoomInput::Open { conn: &conn }, &mut self.env);
        self.frame(&conn, json!({"type": "connect", "sessionId": format!("session-{name}-0123456789")}));
        let claims =
            Claims { sub: name.into(), role: role.into(), room: "home".into(), exp: NOW / 1000.0 + 3600.0, name: None };
        let out = self.frame(&conn, json!({"type": "authenticate", "token": sign(&claims, SECRET)}));
        match &out[0].message {
            ServerMessage::Transition { .. } => Ok(conn),
            other => Err(format!("{other:?}")),
        }
    }

    fn mutate(&mut self, conn: &ConnId, path: &str, args: Json) -> Result<Json, (ErrorCode, String)> {
        self.request += 1;
        let frame = json!({"type": "mutation", "requestId": self.request, "udfPath": path, "args": args});
        match self.frame(conn, frame).into_iter().last().map(|o| o.message) {
            Some(ServerMessage::MutationResponse { outcome: MutationOutcome::Success { result, .. }, .. }) => {
                Ok(result)
            }
            Some(ServerMessage::MutationResponse { outcome: MutationOutcome::Failure { code, message }, .. }) => {
                Err((code, message))
            }
            other => panic!("{other:?}"),
        }
    }

    fn query(&self, path: &str, args: Json) -> Json {
        self.room.query_once(path, &args).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

#[test]
fn the_app_is_valid() {
    if let Err(e) = roomsync_todo_app::define() {
        panic!("{e}");
    }
}

#[test]
fn lists_and_items_through_the_engine() {
    let mut t = Lists::new();
    let editor = t.sign_in("e", "editor").unwrap();
    let list = t.mutate(&editor, "lists:create", json!({"name": " Groceries "})).unwrap();
    let list = list.as_str().unwrap().to_string();
    let milk = t.mutate(&editor, "items:add", json!({"list": list, "text": "süt"})).unwrap();
    t.mutate(&editor, "items:add", json!({"list": list, "text": "Ekmek"})).unwrap();
    assert_eq!(t.query("items:openCount", json!({"list": list})), json!(2.0));
    assert_eq!(t.mutate(&editor, "items:toggle", json!({"id": milk})), Ok(json!(true)));
    assert_eq!(t.query("items:openCount", json!({"list": list})), json!(1.0));
    let done = t.query("items:ofList", json!({"list": list, "done": true}));
    assert_eq!(done.as_array().map(|a| a.len()), Some(1));
    // Turkish-aware search (the engine's folding), filtered to the list.
    let found = t.query("items:search", json!({"text": "SUT", "list": list}));
    assert_eq!(found[0]["text"], "süt", "{found}");
    assert_eq!(t.query("lists:all", json!({}))[0]["name"], "Groceries");
    // The unique name is the app's, checked by the engine.
    let (code, _) = t.mutate(&editor, "lists:create", json!({"name": "Groceries"})).unwrap_err();
    assert_eq!(code, ErrorCode::UniqueViolation);
    let (code, message) = t.mutate(&editor, "items:add", json!({"list": list, "text": "  "})).unwrap_err();
    assert_eq!(
        (code, message.as_str()),
        (ErrorCode::Validation, "args.text: expected a non-empty string, found an empty string")
    );
}

#[test]
fn a_verifier_built_with_other_roles_reads_tokens_against_the_apps() {
    use roomsync_shared::auth::{Role, Roles};
    const OTHER: Roles = Roles::new(&[Role::new(0, "manager"), Role::new(1, "guest")]);
    let mut t = Lists::new();
    t.room.set_auth(AuthPolicy::Tokens(TokenVerifier::new(SECRET, "home", OTHER)));
    assert!(t.sign_in("m", "manager").unwrap_err().contains("not one of owner, editor, guest"));
    // "guest" is the to-do app's weakest role, not the other list's rank 1.
    let guest = t.sign_in("g", "guest").unwrap();
    let (code, _) = t.mutate(&guest, "lists:create", json!({"name": "x"})).unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden);
}

#[test]
fn the_apps_own_roles_decide() {
    let mut t = Lists::new();
    let guest = t.sign_in("g", "guest").unwrap();
    let editor = t.sign_in("e", "editor").unwrap();
    let owner = t.sign_in("o", "owner").unwrap();
    // The reference app's roles mean nothing here.
    let refused = t.sign_in("m", "manager").unwrap_err();
    assert!(refused.contains(r#"\"manager\" is not one of owner, editor, guest"#), "{refused}");

    let (code, message) = t.mutate(&guest, "lists:create", json!({"name": "x"})).unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(message.contains("allowed to the roles editor, owner only; you are signed in as guest"), "{message}");

    // A role writes only the fields it reads: the note is the owners'.
    let (code, message) = t.mutate(&editor, "lists:create", json!({"name": "Home", "note": "x"})).unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(message.contains("writing lists.note is allowed to the role owner only"), "{message}");
    let list = t.mutate(&owner, "lists:create", json!({"name": "Home", "note": "key under the mat"})).unwrap();
    let (code, message) = t.mutate(&editor, "lists:archive", json!({"id": list})).unwrap_err();
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(message.contains("allowed to the role owner only"), "{message}");
    t.mutate(&owner, "lists:archive", json!({"id": list})).unwrap();
    let (code, message) = t.mutate(&editor, "items:add", json!({"list": list, "text": "x"})).unwrap_err();
    assert_eq!(code, ErrorCode::Application);
    assert!(message.contains("is archived"), "{message}");

    // The private note reaches owners only, through the same field rules as TC numbers.
    let sub = |t: &mut Lists, conn: &ConnId| {
        let out = t.frame(
            conn,
            json!({"type": "subscribe", "queryId": 1, "udfPath": "lists:all", "args": {"archived": true}}),
        );
        format!("{:?}", out.last().map(|o| &o.message))
    };
    assert!(sub(&mut t, &owner).contains("key under the mat"));
    let as_editor = sub(&mut t, &editor);
    assert!(as_editor.contains("Home") && !as_editor.contains("key under the mat"), "{as_editor}");
}
