use super::*;
use crate::sqlite::NativeSql;
use serde_json::json;

fn cx(n: u128) -> Context {
    Context {
        now_ms: 1_700_000_000_000.0 + n as f64,
        random: n,
    }
}

fn room() -> Room<NativeSql> {
    Room::open(NativeSql::in_memory().unwrap()).unwrap()
}

fn conn(name: &str) -> ConnId {
    ConnId::from_stored(name.to_string())
}

fn frame(room: &Room<NativeSql>, c: &ConnId, msg: serde_json::Value, n: u128) -> Vec<Outgoing> {
    room.handle(
        RoomInput::Frame {
            conn: c,
            text: &msg.to_string(),
        },
        cx(n),
    )
}

fn single(out: Vec<Outgoing>) -> ServerMessage {
    assert_eq!(out.len(), 1, "{out:?}");
    out.into_iter().next().unwrap().message
}

#[test]
fn subscribe_gets_initial_result_at_version_1() {
    let room = room();
    let a = conn("a");
    room.handle(RoomInput::Open { conn: &a }, cx(0));
    let msg = single(frame(
        &room,
        &a,
        json!({"type":"subscribe","queryId":1,"udfPath":"tasks:list"}),
        1,
    ));
    assert_eq!(
        msg,
        ServerMessage::Transition {
            start_version: StateVersion {
                query_set: 0,
                ts: Ts(0)
            },
            end_version: StateVersion {
                query_set: 1,
                ts: Ts(0)
            },
            modifications: vec![QueryModification::QueryUpdated {
                query_id: 1,
                value: json!([])
            }],
        }
    );
}

#[test]
fn insert_fans_out_to_every_subscriber_then_answers_the_writer() {
    let room = room();
    let (a, b) = (conn("a"), conn("b"));
    for c in [&a, &b] {
        room.handle(RoomInput::Open { conn: c }, cx(0));
        frame(
            &room,
            c,
            json!({"type":"subscribe","queryId":7,"udfPath":"tasks:list","args":{}}),
            1,
        );
    }
    let out = frame(
        &room,
        &a,
        json!({"type":"mutation","requestId":1,"udfPath":"tasks:create","args":{"title":"Call donor"}}),
        42,
    );
    assert_eq!(out.len(), 3, "{out:?}");
    let id = DocumentId::new("tasks", 42).to_string();
    let expected_value = json!([{ "_id": id, "_creationTime": 1_700_000_000_042.0, "title": "Call donor", "status": "todo" }]);
    for (o, who) in out[..2].iter().zip([&a, &b]) {
        assert_eq!(&o.to, who);
        assert_eq!(
            o.message,
            ServerMessage::Transition {
                start_version: StateVersion {
                    query_set: 1,
                    ts: Ts(0)
                },
                end_version: StateVersion {
                    query_set: 1,
                    ts: Ts(1)
                },
                modifications: vec![QueryModification::QueryUpdated {
                    query_id: 7,
                    value: expected_value.clone()
                }],
            }
        );
    }
    assert_eq!(
        out[2],
        Outgoing {
            to: a.clone(),
            message: ServerMessage::MutationResponse {
                request_id: 1,
                outcome: MutationOutcome::Success {
                    result: json!(id),
                    ts: Ts(1)
                }
            }
        }
    );
}

#[test]
fn state_survives_reopening_the_room() {
    let sql = NativeSql::in_memory().unwrap();
    let a = conn("a");
    {
        let room = Room::open(sql).unwrap();
        frame(
            &room,
            &a,
            json!({"type":"subscribe","queryId":1,"udfPath":"tasks:list"}),
            1,
        );
        frame(
            &room,
            &a,
            json!({"type":"mutation","requestId":1,"udfPath":"tasks:create","args":{"title":"x"}}),
            2,
        );
        // Hand the storage to a new engine, as after a hibernation wake-up.
        let room = Room::open(room.sql).unwrap();
        let out = frame(
            &room,
            &a,
            json!({"type":"mutation","requestId":2,"udfPath":"tasks:create","args":{"title":"y"}}),
            3,
        );
        let ServerMessage::Transition {
            start_version,
            end_version,
            modifications,
        } = &out[0].message
        else {
            panic!("{out:?}")
        };
        assert_eq!(
            *start_version,
            StateVersion {
                query_set: 1,
                ts: Ts(1)
            }
        );
        assert_eq!(
            *end_version,
            StateVersion {
                query_set: 1,
                ts: Ts(2)
            }
        );
        let QueryModification::QueryUpdated { value, .. } = &modifications[0] else {
            panic!()
        };
        assert_eq!(value.as_array().unwrap().len(), 2);
    }
}

#[test]
fn invalid_task_is_refused_and_nothing_is_written() {
    let room = room();
    let a = conn("a");
    frame(
        &room,
        &a,
        json!({"type":"subscribe","queryId":1,"udfPath":"tasks:list"}),
        1,
    );
    let msg = single(frame(
        &room,
        &a,
        json!({"type":"mutation","requestId":9,"udfPath":"tasks:create","args":{"title":"x","status":"later"}}),
        2,
    ));
    assert_eq!(
        msg,
        ServerMessage::MutationResponse {
            request_id: 9,
            outcome: MutationOutcome::Failure {
                code: ErrorCode::Validation,
                message:
                    r#"tasks.status: expected one of "todo", "doing", "done", found string "later""#
                        .into()
            }
        }
    );
    assert_eq!(room.current_ts().unwrap(), Ts(0));
    assert_eq!(room.list_documents("tasks").unwrap(), json!([]));
}

#[test]
fn malformed_frame_gets_an_error_and_the_room_keeps_serving() {
    let room = room();
    let a = conn("a");
    let msg = single(room.handle(
        RoomInput::Frame {
            conn: &a,
            text: "{nope",
        },
        cx(1),
    ));
    let ServerMessage::Error { code, message } = msg else {
        panic!()
    };
    assert_eq!(code, ErrorCode::BadFrame);
    assert!(message.starts_with("malformed frame: "), "{message}");
    let out = frame(
        &room,
        &a,
        json!({"type":"mutation","requestId":1,"udfPath":"tasks:create","args":{"title":"ok"}}),
        2,
    );
    assert!(matches!(
        out[0].message,
        ServerMessage::MutationResponse {
            outcome: MutationOutcome::Success { .. },
            ..
        }
    ));
}

#[test]
fn unknown_functions_are_named() {
    let room = room();
    let a = conn("a");
    let msg = single(frame(
        &room,
        &a,
        json!({"type":"subscribe","queryId":1,"udfPath":"tasks:lst"}),
        1,
    ));
    let ServerMessage::Transition { modifications, .. } = msg else {
        panic!()
    };
    assert_eq!(
        modifications,
        vec![QueryModification::QueryFailed {
            query_id: 1,
            code: ErrorCode::UnknownFunction,
            message: r#"no query named "tasks:lst"; available: tasks:list"#.into()
        }]
    );
    let msg = single(frame(
        &room,
        &a,
        json!({"type":"mutation","requestId":1,"udfPath":"nope","args":{}}),
        2,
    ));
    assert!(matches!(
        msg,
        ServerMessage::MutationResponse {
            outcome: MutationOutcome::Failure {
                code: ErrorCode::UnknownFunction,
                ..
            },
            ..
        }
    ));
}

#[test]
fn unsubscribe_and_duplicate_ids() {
    let room = room();
    let a = conn("a");
    frame(
        &room,
        &a,
        json!({"type":"subscribe","queryId":1,"udfPath":"tasks:list"}),
        1,
    );
    let dup = single(frame(
        &room,
        &a,
        json!({"type":"subscribe","queryId":1,"udfPath":"tasks:list"}),
        2,
    ));
    assert!(matches!(
        dup,
        ServerMessage::Error {
            code: ErrorCode::BadQueryId,
            ..
        }
    ));
    let removed = single(frame(
        &room,
        &a,
        json!({"type":"unsubscribe","queryId":1}),
        3,
    ));
    assert_eq!(
        removed,
        ServerMessage::Transition {
            start_version: StateVersion {
                query_set: 1,
                ts: Ts(0)
            },
            end_version: StateVersion {
                query_set: 2,
                ts: Ts(0)
            },
            modifications: vec![QueryModification::QueryRemoved { query_id: 1 }],
        }
    );
    // No subscribers left: a commit sends only the response.
    let out = frame(
        &room,
        &a,
        json!({"type":"mutation","requestId":1,"udfPath":"tasks:create","args":{"title":"x"}}),
        4,
    );
    assert_eq!(out.len(), 1);
    let again = single(frame(
        &room,
        &a,
        json!({"type":"unsubscribe","queryId":1}),
        5,
    ));
    assert!(matches!(
        again,
        ServerMessage::Error {
            code: ErrorCode::BadQueryId,
            ..
        }
    ));
}

#[test]
fn closing_drops_subscriptions() {
    let room = room();
    let (a, b) = (conn("a"), conn("b"));
    frame(
        &room,
        &a,
        json!({"type":"subscribe","queryId":1,"udfPath":"tasks:list"}),
        1,
    );
    room.handle(RoomInput::Close { conn: &a }, cx(2));
    let out = frame(
        &room,
        &b,
        json!({"type":"mutation","requestId":1,"udfPath":"tasks:create","args":{"title":"x"}}),
        3,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, b);
}

#[test]
fn query_args_are_validated() {
    let room = room();
    let a = conn("a");
    let msg = single(frame(
        &room,
        &a,
        json!({"type":"subscribe","queryId":1,"udfPath":"tasks:list","args":{"x":1}}),
        1,
    ));
    let ServerMessage::Transition { modifications, .. } = msg else {
        panic!()
    };
    assert!(
        matches!(&modifications[0], QueryModification::QueryFailed { code: ErrorCode::Validation, message, .. } if message == "tasks:list.args: expected no arguments ({} or null), found object")
    );
}
