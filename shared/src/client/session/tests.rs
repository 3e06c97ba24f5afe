//! The session's rules one at a time, with scripted frames (the whole session against a real
//! room, over a lossy network in virtual time, is `tests/tests/session.rs`).

use super::*;
use crate::protocol::{MutationOutcome, QueryModification, ServerMessage, StateVersion, Ts};
use serde_json::{json, Value};

fn session() -> Session<Value> {
    Session::new(ClientCore::new("session-0123456789abcdef".into()))
}

fn credentials(owner: &str) -> Option<Credentials> {
    Some(Credentials { token: format!("token-of-{owner}"), owner: owner.into() })
}

fn frames(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(Frame::Connect { .. }) => Some("connect"),
            Effect::Send(Frame::Authenticate { .. }) => Some("authenticate"),
            Effect::Send(Frame::Subscribe { .. }) => Some("subscribe"),
            Effect::Send(Frame::SubscribeMany { .. }) => Some("subscribeMany"),
            Effect::Send(Frame::Unsubscribe { .. }) => Some("unsubscribe"),
            Effect::Send(Frame::Mutation { .. }) => Some("mutation"),
            _ => None,
        })
        .collect()
}

fn armed(effects: &[Effect], timer: Timer) -> Option<f64> {
    effects.iter().rev().find_map(|e| match e {
        Effect::Arm { timer: t, in_ms } if *t == timer => Some(*in_ms),
        _ => None,
    })
}

fn fetches(effects: &[Effect]) -> Vec<bool> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::FetchToken { force, .. } => Some(*force),
            _ => None,
        })
        .collect()
}

fn incoming(message: ServerMessage) -> Result<Incoming<Value>, String> {
    Ok(message.into())
}

fn identity_moved(from: u32) -> Result<Incoming<Value>, String> {
    let start = StateVersion { query_set: 0, identity: from, ts: Ts(0) };
    incoming(ServerMessage::Transition {
        start_version: start,
        end_version: StateVersion { identity: from + 1, ..start },
        modifications: Vec::new(),
    })
}

/// A signed-in session whose socket serves and whose token the room accepted.
fn live_signed_in(now: f64) -> Session<Value> {
    let mut s = session();
    s.sign_in();
    s.start();
    s.socket_opened(now);
    s.token_fetched(s.generation, credentials("ayse"), None, now);
    s.received(identity_moved(0), 10, now, 0.5);
    s.take_effects();
    s
}

#[test]
fn a_socket_starts_only_with_the_first_token_and_the_saved_outbox() {
    let mut s = session();
    s.outbox_loading(true, 0.0);
    s.sign_in();
    s.start();
    let effects = s.take_effects();
    assert_eq!(fetches(&effects), [false]);
    assert!(effects.contains(&Effect::Open));
    s.socket_opened(10.0);
    assert!(frames(&s.take_effects()).is_empty(), "nothing before the token");
    s.token_fetched(s.generation, credentials("ayse"), None, 20.0);
    assert!(frames(&s.take_effects()).is_empty(), "nothing before the saved outbox");
    s.outbox_loading(false, 30.0);
    let effects = s.take_effects();
    assert_eq!(frames(&effects), ["connect", "authenticate"]);
    assert!(effects.contains(&Effect::Live) && s.is_live());
}

#[test]
fn a_failing_token_fetch_is_retried_with_backoff_and_at_once_on_wake() {
    let mut s = session();
    s.sign_in();
    s.take_effects();
    let gen = s.generation;
    let mut delays = Vec::new();
    for _ in 0..8 {
        let delay = s.token_failed(gen, 0.5).expect("the current sign-in");
        assert_eq!(armed(&s.take_effects(), Timer::TokenRetry), Some(delay));
        delays.push(delay);
        s.timer(Timer::TokenRetry, 0.0, 0.5);
        assert_eq!(fetches(&s.take_effects()), [false], "fetched again when the timer fires");
    }
    assert!(delays[0] >= 500.0 && delays[0] <= 1000.0, "{delays:?}");
    assert!(delays.windows(2).all(|w| w[1] >= w[0]) && delays[7] <= 30_000.0, "{delays:?}");
    s.token_failed(gen, 0.5);
    s.take_effects();
    s.wake(false);
    assert_eq!(fetches(&s.take_effects()), [false], "the browser is back: now");
    assert_eq!(s.token_failed(gen.wrapping_sub(1), 0.5), None, "an earlier sign-in's answer is ignored");
}

#[test]
fn a_token_is_refreshed_a_minute_before_it_expires() {
    let mut s = session();
    s.sign_in();
    s.take_effects();
    s.token_fetched(s.generation, credentials("ayse"), Some(3_600_000.0), 0.0);
    assert_eq!(armed(&s.take_effects(), Timer::TokenRefresh), Some(3_540_000.0));
    s.timer(Timer::TokenRefresh, 3_540_000.0, 0.5);
    assert_eq!(fetches(&s.take_effects()), [true], "a refresh the cache must not answer");
}

#[test]
fn a_refused_token_is_fetched_again_at_once_then_with_backoff() {
    let mut s = live_signed_in(0.0);
    let refused = || {
        incoming(ServerMessage::Error {
            code: ErrorCode::Unauthenticated,
            message: "token expired".into(),
            retry_after_ms: None,
        })
    };
    s.received(refused(), 10, 1.0, 0.5);
    let effects = s.take_effects();
    assert_eq!(fetches(&effects), [true]);
    assert!(!effects.contains(&Effect::AuthChanged(false)), "a stale token is not news");
    s.token_fetched(s.generation, credentials("ayse"), None, 2.0);
    s.take_effects();
    s.received(refused(), 10, 3.0, 0.5);
    let effects = s.take_effects();
    assert!(fetches(&effects).is_empty() && armed(&effects, Timer::TokenRetry).is_some_and(|ms| ms >= 500.0));
    assert!(effects.contains(&Effect::AuthChanged(false)));
}

#[test]
fn writes_wait_for_the_rooms_yes_and_a_throttled_client_pauses() {
    let mut s = session();
    s.sign_in();
    s.start();
    s.socket_opened(0.0);
    s.token_fetched(s.generation, credentials("ayse"), None, 0.0);
    s.take_effects();
    let id = s.mutation("tasks:create", json!({"title": "a"})).unwrap();
    assert!(frames(&s.take_effects()).is_empty(), "not before the room accepted the token");
    s.received(identity_moved(0), 10, 1.0, 0.5);
    let effects = s.take_effects();
    assert_eq!(frames(&effects), ["mutation"]);
    assert!(effects.contains(&Effect::AuthChanged(true)));
    let throttled = ServerMessage::MutationResponse {
        request_id: id,
        outcome: MutationOutcome::Failure { code: ErrorCode::LimitExceeded, message: "slow down".into() },
    };
    s.received(incoming(throttled), 10, 2.0, 0.0);
    let effects = s.take_effects();
    assert_eq!(armed(&effects, Timer::ThrottleResume), Some(1000.0));
    assert!(frames(&effects).is_empty());
    s.timer(Timer::ThrottleResume, 1002.0, 0.0);
    assert_eq!(frames(&s.take_effects()), ["mutation"], "sent again after the pause");
}

#[test]
fn another_protocol_or_schema_stops_the_client() {
    for code in [ErrorCode::ProtocolMismatch, ErrorCode::SchemaMismatch] {
        let mut s = live_signed_in(0.0);
        s.mutation("tasks:create", json!({"title": "a"})).unwrap();
        let error = ServerMessage::Error { code, message: "reload".into(), retry_after_ms: None };
        let events = s.received(incoming(error), 10, 1.0, 0.5);
        assert!(
            events.iter().any(|e| matches!(e, ClientEvent::Mutation { result: Err(_), .. })),
            "the writes' promises settle: {events:?}"
        );
        let effects = s.take_effects();
        assert!(
            effects.iter().any(|e| matches!(e, Effect::Stop(why) if why.starts_with(code.as_str()))),
            "{effects:?}"
        );
        assert!(s.lifecycle().is_closed() && effects.contains(&Effect::Drop));
        s.socket_closed(2.0, 0.5);
        assert!(armed(&s.take_effects(), Timer::Reconnect).is_none(), "no attempt after a stop");
    }
    let mut s = live_signed_in(0.0);
    let error = ServerMessage::Error { code: ErrorCode::BadFrame, message: "x".into(), retry_after_ms: None };
    s.received(incoming(error), 10, 1.0, 0.5);
    assert!(!s.take_effects().iter().any(|e| matches!(e, Effect::Stop(_))), "other refusals are logged only");
}

#[test]
fn a_silent_socket_is_dropped_and_replaced_at_once_and_a_lost_one_after_backoff() {
    let mut s = live_signed_in(0.0);
    let mut now = 0.0;
    let mut dropped = false;
    for _ in 0..10 {
        now += 1000.0;
        s.timer(Timer::Heartbeat, now, 0.5);
        let effects = s.take_effects();
        if effects.contains(&Effect::Drop) {
            assert!(now <= 5000.0, "found within 5 s");
            assert!(armed(&effects, Timer::Reconnect).is_some_and(|ms| ms <= 1000.0), "{effects:?}");
            dropped = true;
            break;
        }
    }
    assert!(dropped && !s.is_live());
    s.timer(Timer::Reconnect, now + 1000.0, 0.5);
    assert!(s.take_effects().contains(&Effect::Open));
    s.socket_closed(now + 1100.0, 0.99);
    let effects = s.take_effects();
    assert!(armed(&effects, Timer::Reconnect).is_some_and(|ms| ms > 0.0));
    s.timer(Timer::Reconnect, now + 5000.0, 0.5);
    s.socket_opened(now + 5100.0);
    let effects = s.take_effects();
    assert_eq!(frames(&effects), ["connect", "authenticate"], "the token it holds: no new fetch");
    assert!(fetches(&effects).is_empty());
}

#[test]
fn an_overloaded_room_is_not_tried_again_before_its_hint() {
    let mut s = live_signed_in(0.0);
    let shed =
        ServerMessage::Error { code: ErrorCode::Overloaded, message: "shedding".into(), retry_after_ms: Some(7000) };
    s.received(incoming(shed), 10, 1.0, 0.0);
    s.socket_closed(2.0, 0.0);
    assert!(armed(&s.take_effects(), Timer::Reconnect).is_some_and(|ms| ms >= 7000.0));
}

#[test]
fn a_broken_chain_of_results_resyncs_on_a_new_socket() {
    let mut s = live_signed_in(0.0);
    s.subscribe("tasks:list", json!({})).unwrap();
    s.take_effects();
    let gap = ServerMessage::Transition {
        start_version: StateVersion { query_set: 5, identity: 1, ts: Ts(9) },
        end_version: StateVersion { query_set: 6, identity: 1, ts: Ts(9) },
        modifications: vec![QueryModification::QueryUnchanged { query_id: 1 }],
    };
    s.received(incoming(gap), 10, 1.0, 0.5);
    let effects = s.take_effects();
    assert!(effects.contains(&Effect::Drop));
    assert!(armed(&effects, Timer::Reconnect).is_some_and(|ms| ms <= 1000.0), "{effects:?}");
    s.timer(Timer::Reconnect, 2.0, 0.5);
    s.socket_opened(3.0);
    assert_eq!(frames(&s.take_effects()), ["connect", "authenticate", "subscribeMany"]);
}

#[test]
fn signing_out_and_closing_forget_the_sign_in() {
    let mut s = live_signed_in(0.0);
    let gen = s.generation;
    s.sign_out(1.0);
    let effects = s.take_effects();
    assert!(effects.iter().any(|e| matches!(e, Effect::Send(Frame::Authenticate { token: None }))));
    s.token_fetched(gen, credentials("mehmet"), None, 2.0);
    assert!(s.take_effects().is_empty(), "a fetch of the sign-in before is ignored");
    let mut s = live_signed_in(0.0);
    s.mutation("tasks:create", json!({"title": "a"})).unwrap();
    let events = s.close();
    assert!(matches!(&events[..], [ClientEvent::Mutation { result: Err(_), .. }]));
    let effects = s.take_effects();
    assert!(effects.contains(&Effect::Drop) && Timer::ALL.iter().all(|t| effects.contains(&Effect::Disarm(*t))));
    s.start();
    assert!(!s.take_effects().contains(&Effect::Open), "closed for good");
}

#[test]
fn a_socket_reopened_while_signing_in_as_someone_else_waits_for_their_token() {
    let mut s = live_signed_in(0.0);
    s.subscribe("tasks:list", json!({})).unwrap();
    s.take_effects();
    s.sign_in(); // another user: the token held is the previous user's
    s.socket_closed(1.0, 0.5);
    s.timer(Timer::Reconnect, 2.0, 0.5);
    s.socket_opened(3.0);
    let effects = s.take_effects();
    assert!(frames(&effects).is_empty(), "nothing as the user before, nothing signed out: {effects:?}");
    s.token_fetched(s.generation, credentials("mehmet"), None, 4.0);
    assert_eq!(frames(&s.take_effects()), ["connect", "authenticate", "subscribeMany"]);
}

#[test]
fn a_refresh_does_not_hold_a_socket_back_and_a_token_without_expiry_cancels_it() {
    let mut s = live_signed_in(0.0);
    s.timer(Timer::TokenRefresh, 1.0, 0.5);
    assert_eq!(fetches(&s.take_effects()), [true]);
    s.socket_closed(2.0, 0.5);
    s.timer(Timer::Reconnect, 3.0, 0.5);
    s.socket_opened(4.0);
    assert_eq!(frames(&s.take_effects()), ["connect", "authenticate"], "the accepted token serves meanwhile");
    s.token_fetched(s.generation, credentials("ayse"), None, 5.0);
    assert!(s.take_effects().contains(&Effect::Disarm(Timer::TokenRefresh)));
}

#[test]
fn frames_read_are_acknowledged_every_32_frames_or_128_k_characters() {
    let acks = |effects: &[Effect]| -> Vec<u32> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(Frame::Ack { frames }) => Some(*frames),
                _ => None,
            })
            .collect()
    };
    let mut s = live_signed_in(0.0);
    let mut sent = Vec::new();
    for n in 0..70 {
        s.received(identity_moved(n + 1), 100, 1.0, 0.5);
        sent.extend(acks(&s.take_effects()));
    }
    // 71 frames (the sign-in's transition and 70 more): two acks, seven still unacknowledged.
    assert_eq!(sent, [32, 32]);
    // A big frame is acknowledged at once, with the small ones before it.
    s.received(identity_moved(71), ACK_EVERY_SIZE, 1.0, 0.5);
    assert_eq!(acks(&s.take_effects()), [8]);
    // A new socket starts counting afresh (the room counts per connection).
    for n in 0..5 {
        s.received(identity_moved(72 + n), 100, 1.0, 0.5);
    }
    s.socket_closed(2.0, 0.5);
    assert!(acks(&s.take_effects()).is_empty());
}
