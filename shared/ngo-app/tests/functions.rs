//! The reference app's functions, end to end through the room engine (natively).

use roomsync_shared::engine::environment::TestEnvironment;
use roomsync_shared::protocol::{ErrorCode, MutationOutcome, ServerMessage};
use roomsync_shared::storage::sqlite::NativeSql;
use roomsync_shared::{ConnId, Room, RoomInput};
use serde_json::{json, Value as Json};

struct App {
    room: Room<NativeSql>,
    env: TestEnvironment,
    conn: ConnId,
    request: u32,
}

impl App {
    fn new() -> Self {
        let room = roomsync_ngo_app::open_room(NativeSql::in_memory().unwrap()).unwrap();
        let mut app = Self {
            room,
            env: TestEnvironment::new(1_764_081_900_000.0),
            conn: ConnId::from_stored("c".into()),
            request: 0,
        };
        let hello = json!({"type": "connect", "sessionId": "session-app-tests-0123456789"});
        app.room.handle(RoomInput::Frame { conn: &app.conn, text: &hello.to_string() }, &mut app.env);
        app
    }

    fn mutate(&mut self, path: &str, args: Json) -> Result<Json, (ErrorCode, String)> {
        self.request += 1;
        self.env.now_ms += 1000.0;
        let frame = json!({"type": "mutation", "requestId": self.request, "udfPath": path, "args": args});
        let out = self.room.handle(RoomInput::Frame { conn: &self.conn, text: &frame.to_string() }, &mut self.env);
        match out.into_iter().last().map(|o| o.message) {
            Some(ServerMessage::MutationResponse { outcome: MutationOutcome::Success { result, .. }, .. }) => {
                Ok(result)
            }
            Some(ServerMessage::MutationResponse { outcome: MutationOutcome::Failure { code, message }, .. }) => {
                Err((code, message))
            }
            other => panic!("{other:?}"),
        }
    }

    fn ok(&mut self, path: &str, args: Json) -> Json {
        self.mutate(path, args).unwrap_or_else(|e| panic!("{path}: {e:?}"))
    }

    fn query(&self, path: &str, args: Json) -> Json {
        self.room.query_once(path, &args).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn user(&mut self, email: &str) -> Json {
        self.ok("users:ensure", json!({"name": email, "email": email, "role": "admin"}))
    }
}

fn donation(receipt: &str, amount: f64, currency: &str, donor: &str) -> Json {
    json!({
        "donor_name": donor, "donor_phone": "0555", "amount": amount, "currency": currency,
        "donation_type": "cash", "payment_method": "NAKIT", "donation_purpose": "Kurban",
        "receipt_number": receipt,
    })
}

#[test]
fn donations_list_lookup_totals_and_unique_receipts() {
    let mut app = App::new();
    app.ok("donations:create", donation("R-1", 100.0, "TRY", "Ayşe Yılmaz"));
    app.ok("donations:create", donation("R-2", 50.0, "USD", "Mehmet Öz"));
    app.ok("donations:create", donation("R-3", 25.5, "TRY", "Şule Kaya"));
    let (code, message) = app.mutate("donations:create", donation("R-2", 1.0, "EUR", "x")).unwrap_err();
    assert_eq!(code, ErrorCode::UniqueViolation);
    assert!(
        message.starts_with(r#"donations.receipt_number must be unique: "R-2" is already used by donations "#),
        "{message}"
    );
    assert_eq!(app.query("donations:byReceipt", json!({"receipt_number": "R-3"}))["donor_name"], "Şule Kaya");
    assert_eq!(app.query("donations:byReceipt", json!({"receipt_number": "R-9"})), Json::Null);
    assert_eq!(app.query("donations:totals", json!({})), json!({"TRY": 125.5, "USD": 50.0, "EUR": 0.0}));
    let list = app.query("donations:list", json!({"search": "sule", "limit": 10}));
    assert_eq!(list["total"], 1.0);
    assert_eq!(list["documents"][0]["receipt_number"], "R-3");
    let pending = app.query("donations:list", json!({"status": "pending"}));
    assert_eq!(pending["total"], 3.0);
    let (code, message) = app.mutate("donations:create", json!({"donor_name": "x"})).unwrap_err();
    assert_eq!(code, ErrorCode::Validation);
    assert_eq!(message, "donations.amount: expected number (required), found nothing: the field is missing");
}

#[test]
fn approving_a_donation_books_income_in_the_same_transaction() {
    let mut app = App::new();
    let admin = app.user("admin@x");
    let id = app.ok("donations:create", donation("R-10", 300.0, "EUR", "Ali"));
    let record = app.ok("donations:approve", json!({"id": id, "approved_by": admin}));
    let approved = app.query("donations:get", json!({"id": id}));
    assert_eq!(approved["status"], "approved");
    let finance = app.room.query_once("donations:totals", &json!({"status": "approved"})).unwrap();
    assert_eq!(finance["EUR"], 300.0);
    assert!(record.as_str().is_some_and(|r| r.len() == 30));
    // Approving twice is refused and writes nothing.
    let ts = app.room.current_ts().unwrap();
    let (code, message) = app.mutate("donations:approve", json!({"id": id, "approved_by": admin})).unwrap_err();
    assert_eq!(code, ErrorCode::Application);
    assert_eq!(
        message,
        format!("only a pending donation can be approved; donations {} is approved", id.as_str().unwrap())
    );
    assert_eq!(app.room.current_ts().unwrap(), ts);
}

#[test]
fn a_failing_multi_table_mutation_leaves_no_trace() {
    let mut app = App::new();
    // An approver id of the wrong table: the donation patch succeeds first, then the finance
    // record fails validation — and the patch must roll back with it.
    let id = app.ok("donations:create", donation("R-20", 10.0, "TRY", "Deniz"));
    let not_a_user = app.ok("donations:create", donation("R-21", 1.0, "TRY", "Ece"));
    let (code, _) = app.mutate("donations:approve", json!({"id": id, "approved_by": not_a_user})).unwrap_err();
    assert_eq!(code, ErrorCode::Validation);
    assert_eq!(app.query("donations:get", json!({"id": id}))["status"], "pending");
}

#[test]
fn meetings_with_decisions_action_items_and_notifications() {
    let mut app = App::new();
    let chair = app.user("chair@x");
    let member = app.user("member@x");
    let meeting = app.ok(
        "meetings:create",
        json!({"title": "Yönetim kurulu", "meeting_date": "2026-12-01T10:00:00Z", "organizer": chair,
               "participants": [chair, member], "meeting_type": "board"}),
    );
    let decision =
        app.ok("meetings:addDecision", json!({"meeting_id": meeting, "title": "Kış yardımı", "created_by": chair}));
    let item = app.ok(
        "meetings:addActionItem",
        json!({"meeting_id": meeting, "decision_id": decision, "title": "Koli listesi", "assigned_to": member, "created_by": chair}),
    );
    let full = app.query("meetings:get", json!({"id": meeting}));
    assert_eq!(full["meeting"]["status"], "scheduled");
    assert_eq!(full["decisions"][0]["status"], "acik");
    assert_eq!(full["actionItems"][0]["title"], "Koli listesi");
    assert_eq!(full["decisions"][0]["created_at"], "2025-11-25T14:45:04.000Z");

    let inbox = app.query("notifications:forUser", json!({"recipient": member}));
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert_eq!(inbox[0]["title"], "Yeni görev: Koli listesi");
    assert_eq!(inbox[0]["reference"], json!({"type": "meeting_action_item", "id": item}));
    assert_eq!(app.query("notifications:forUser", json!({"recipient": chair})), json!([]));
    app.ok("notifications:markRead", json!({"id": inbox[0]["_id"]}));
    assert_eq!(
        app.query("notifications:forUser", json!({"recipient": member, "status": "okundu"})).as_array().unwrap().len(),
        1
    );

    app.ok("meetings:setActionItemStatus", json!({"id": item, "status": "hazir", "changed_by": member}));
    let done = &app.query("meetings:get", json!({"id": meeting}))["actionItems"][0];
    assert_eq!(done["status"], "hazir");
    assert_eq!(done["status_history"][0]["changed_by"], member);
    assert!(done["completed_at"].is_string());

    app.ok("meetings:remove", json!({"id": meeting}));
    assert_eq!(app.query("meetings:get", json!({"id": meeting})), Json::Null);
    assert_eq!(app.query("meetings:list", json!({})), json!([]));
    let (code, _) = app
        .mutate("meetings:addDecision", json!({"meeting_id": meeting, "title": "x", "created_by": chair}))
        .unwrap_err();
    assert_eq!(code, ErrorCode::NotFound);
}

#[test]
fn task_pages_walk_newest_first_with_cursors() {
    let mut app = App::new();
    let user = app.ok("users:ensure", json!({"name": "A", "email": "a@x", "role": "admin"}));
    for i in 1..=5 {
        app.ok("tasks:create", json!({"title": format!("t{i}"), "created_by": user}));
    }
    let first = app.query("tasks:page", json!({"paginationOpts": {"numItems": 2, "cursor": null}}));
    let titles = |page: &Json| {
        page["page"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!((titles(&first), first["isDone"].as_bool()), (vec!["t5".to_string(), "t4".to_string()], Some(false)));
    let second = app.query("tasks:page", json!({"paginationOpts": {"numItems": 2, "cursor": first["continueCursor"]}}));
    assert_eq!(titles(&second), ["t3", "t2"]);
    let last = app.query("tasks:page", json!({"paginationOpts": {"numItems": 2, "cursor": second["continueCursor"]}}));
    assert_eq!((titles(&last), last["isDone"].as_bool()), (vec!["t1".to_string()], Some(true)));
    let bad = app.room.query_once("tasks:page", &json!({"paginationOpts": {"numItems": 1000}}));
    assert!(bad.unwrap_err().to_string().contains("from 0 to 100"));
}
