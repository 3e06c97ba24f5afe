//! The room Durable Object: accepts hibernatable WebSockets and drives the shared engine.
//!
//! Hibernation-first: the object may be evicted between any two messages while its sockets
//! stay open. The only per-socket state in memory is the socket's attachment (its `ConnId`);
//! subscriptions and versions live in SQLite, where a re-created engine finds them.
//!
//! Durability: SQL writes made while handling a message are committed before any frame sent
//! in that handler leaves the object (the runtime's output gate), so no client ever sees an
//! update or acknowledgement for a write that could still be lost.

use crate::do_sql::DoSql;
use crate::entropy::{random_u128, WorkerEnv};
use roomsync_shared::engine::FunctionKind;
use roomsync_shared::{ConnId, ErrorCode, Outgoing, Room, RoomInput, ServerMessage};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use worker::{
    durable_object, Env, Error, Method, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair, WebSocketRequestResponsePair,
};

/// What each socket carries through hibernation (kept small: attachments live in memory).
#[derive(Serialize, Deserialize)]
struct Attachment {
    conn: ConnId,
}

#[durable_object]
pub struct RoomObject {
    state: State,
    room: std::result::Result<Room<DoSql>, String>,
}

impl RoomObject {
    fn room(&self) -> Result<&Room<DoSql>> {
        self.room.as_ref().map_err(|e| Error::RustError(format!("room storage could not be opened: {e}")))
    }

    fn conn_of(ws: &WebSocket) -> Option<ConnId> {
        ws.deserialize_attachment::<Attachment>().ok().flatten().map(|a| a.conn)
    }

    /// Delivers frames to their connections. A socket that fails to send is left for the
    /// runtime to close; the others still get theirs.
    fn deliver(&self, outgoing: Vec<Outgoing>) {
        if outgoing.is_empty() {
            return;
        }
        let sockets: HashMap<ConnId, WebSocket> = self
            .state
            .get_websockets()
            .into_iter()
            .filter_map(|ws| Self::conn_of(&ws).map(|conn| (conn, ws)))
            .collect();
        let mut gone: Vec<ConnId> = Vec::new();
        for Outgoing { to, message } in outgoing {
            match sockets.get(&to) {
                Some(ws) => {
                    if let Err(e) = ws.send_with_str(message.to_json()) {
                        worker::console_warn!("send to {to} failed: {e}");
                    }
                }
                None if !gone.contains(&to) => gone.push(to),
                None => {}
            }
        }
        // A socket that vanished without a close event (it happens across restarts): drop
        // its subscriptions so later commits stop re-running them.
        if let Ok(room) = self.room() {
            for conn in gone {
                room.handle(RoomInput::Close { conn: &conn }, &mut WorkerEnv);
            }
        }
    }

    fn send_error(ws: &WebSocket, code: ErrorCode, message: String) {
        let _ = ws.send_with_str(ServerMessage::Error { code, message }.to_json());
    }
}

impl worker::DurableObject for RoomObject {
    fn new(state: State, _env: Env) -> Self {
        let room = Room::open(DoSql::new(state.storage())).map_err(|e| e.to_string());
        // Keep-alive pings are answered by the runtime without waking the object.
        if let Ok(pair) = WebSocketRequestResponsePair::new("ping", "pong") {
            state.set_websocket_auto_response(&pair);
        }
        Self { state, room }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let room = self.room()?;
        if req.method() == Method::Post {
            let kind = if req.path().ends_with("/mutation") { FunctionKind::Mutation } else { FunctionKind::Query };
            let body = req.text().await?;
            let (reply, out) = room.http_call(kind, &body, &mut WorkerEnv);
            self.deliver(out);
            return Ok(Response::from_json(&reply.body)?.with_status(reply.status));
        }
        let pair = WebSocketPair::new()?;
        let conn = ConnId::from_random(random_u128());
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(Attachment { conn: conn.clone() })?;
        let out = room.handle(RoomInput::Open { conn: &conn }, &mut WorkerEnv);
        self.deliver(out);
        Response::from_websocket(pair.client)
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let Some(conn) = Self::conn_of(&ws) else {
            Self::send_error(&ws, ErrorCode::Internal, "this socket lost its connection id; reconnect".into());
            return Ok(());
        };
        let text = match message {
            WebSocketIncomingMessage::String(text) => text,
            WebSocketIncomingMessage::Binary(bytes) => {
                Self::send_error(
                    &ws,
                    ErrorCode::BadFrame,
                    format!("binary frames are not supported ({} bytes received); send JSON text frames", bytes.len()),
                );
                return Ok(());
            }
        };
        let room = match self.room() {
            Ok(room) => room,
            Err(e) => {
                Self::send_error(&ws, ErrorCode::Internal, e.to_string());
                return Ok(());
            }
        };
        let out = room.handle(RoomInput::Frame { conn: &conn, text: &text }, &mut WorkerEnv);
        self.deliver(out);
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        self.forget(&ws)
    }

    async fn websocket_error(&self, ws: WebSocket, _error: Error) -> Result<()> {
        self.forget(&ws)
    }
}

impl RoomObject {
    fn forget(&self, ws: &WebSocket) -> Result<()> {
        if let (Some(conn), Ok(room)) = (Self::conn_of(ws), self.room()) {
            room.handle(RoomInput::Close { conn: &conn }, &mut WorkerEnv);
        }
        Ok(())
    }
}
