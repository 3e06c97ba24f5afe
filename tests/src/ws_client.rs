//! A blocking WebSocket client that speaks the room protocol, for tests.

use roomsync_shared::protocol::{ClientMessage, ErrorCode, MutationOutcome, QueryModification, ServerMessage};
use serde_json::Value;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long a test waits for an expected frame.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(15);

/// What [`RoomSocket::next_text`] found.
#[derive(Debug)]
pub enum Next {
    Text(String),
    Timeout,
    Closed(String),
}

/// The code a mutation was refused with; `None` if it succeeded.
pub fn failure_code(outcome: &MutationOutcome) -> Option<ErrorCode> {
    match outcome {
        MutationOutcome::Failure { code, .. } => Some(*code),
        MutationOutcome::Success { .. } => None,
    }
}

pub struct RoomSocket {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
}

impl RoomSocket {
    /// A socket that has sent nothing yet (the room refuses every frame but `connect`).
    pub fn open(url: &str) -> Self {
        let (ws, _response) = tungstenite::connect(url).unwrap_or_else(|e| panic!("connect {url}: {e}"));
        Self::wrap(ws)
    }

    /// Opens a socket as if from client address `address` (the `CF-Connecting-IP` header
    /// Cloudflare's edge sets); a refused upgrade gives its status and body.
    pub fn open_from(url: &str, address: &str) -> Result<Self, (u16, String)> {
        use tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().map_err(|e| (0, e.to_string()))?;
        let value = address.parse().map_err(|_| (0, format!("{address:?} is not a header value")))?;
        request.headers_mut().insert("CF-Connecting-IP", value);
        match tungstenite::connect(request) {
            Ok((ws, _response)) => Ok(Self::wrap(ws)),
            Err(tungstenite::Error::Http(response)) => {
                let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                Err((response.status().as_u16(), body.into_owned()))
            }
            Err(e) => Err((0, e.to_string())),
        }
    }

    fn wrap(ws: WebSocket<MaybeTlsStream<TcpStream>>) -> Self {
        // Short reads so that waits are bounded by our own deadlines.
        if let MaybeTlsStream::Plain(stream) = ws.get_ref() {
            stream.set_read_timeout(Some(Duration::from_millis(250))).expect("set read timeout");
        }
        Self { ws }
    }

    /// A socket that sent `connect` for a new session, as every client does first.
    pub fn connect(url: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self::session(url, &format!("test-session-{}-{n:06}", std::process::id()))
    }

    /// A socket that sent `connect` for `session` (to continue one, as after a reconnect).
    pub fn session(url: &str, session: &str) -> Self {
        let mut socket = Self::open(url);
        socket.send(&ClientMessage::Connect {
            session_id: session.to_string(),
            protocol_version: Some(roomsync_shared::PROTOCOL_VERSION),
            schema_hash: None,
        });
        socket
    }

    /// Connects to `room` and signs in as `role` (user `<role>-user`); waits for the room
    /// to accept the token.
    pub fn signed_in(url: &str, room: &str, role: &str) -> Self {
        let mut socket = Self::connect(url);
        socket.authenticate(Some(crate::token(room, &format!("{role}-user"), role)));
        socket
    }

    /// Sends `authenticate` and waits for its answer: the identity transition (returned) or
    /// an error.
    pub fn authenticate(&mut self, token: Option<String>) -> ServerMessage {
        self.send(&ClientMessage::Authenticate { token });
        let answer = self.recv();
        match &answer {
            ServerMessage::Transition { start_version, end_version, .. }
                if end_version.identity > start_version.identity => {}
            ServerMessage::Error { .. } => {}
            other => panic!("expected the answer to authenticate, got {other:?}"),
        }
        answer
    }

    pub fn send(&mut self, message: &ClientMessage) {
        self.send_text(&message.to_json());
    }

    /// Sends `subscribe` for `query_id` (no result hash: the room sends the whole result).
    pub fn send_subscribe(&mut self, query_id: u32, udf_path: &str, args: Value) {
        self.send(&ClientMessage::Subscribe { query_id, udf_path: udf_path.into(), args, result_hash: None });
    }

    /// Sends one `subscribeMany` of `query_ids`, each to `udf_path` with `args`.
    pub fn send_subscribe_many(&mut self, query_ids: std::ops::RangeInclusive<u32>, udf_path: &str, args: Value) {
        let queries = query_ids
            .map(|query_id| roomsync_shared::protocol::QuerySubscription {
                query_id,
                udf_path: udf_path.into(),
                args: args.clone(),
                result_hash: None,
            })
            .collect();
        self.send(&ClientMessage::SubscribeMany { queries });
    }

    /// Subscribes and waits for the query's first result; panics on anything else.
    pub fn subscribe(&mut self, query_id: u32, udf_path: &str, args: Value) -> QueryModification {
        self.send_subscribe(query_id, udf_path, args);
        self.first_result(query_id)
    }

    /// The first result of a query just subscribed: the room answers a subscribe at once with
    /// the query set moved, and sends the run's result in a later transition (it runs
    /// subscriptions in steps). Panics on anything but transitions.
    pub fn first_result(&mut self, query_id: u32) -> QueryModification {
        match &self.first_results(1)[..] {
            [only] if only.query_id() == query_id => only.clone(),
            other => panic!("expected the first result of query {query_id}, got {other:?}"),
        }
    }

    /// The next `count` query results (transitions' modifications, in order); panics on
    /// anything but transitions or after [`FRAME_TIMEOUT`] without one.
    pub fn first_results(&mut self, count: usize) -> Vec<QueryModification> {
        let mut found = Vec::with_capacity(count);
        while found.len() < count {
            match self.recv() {
                ServerMessage::Transition { modifications, .. } => found.extend(modifications),
                other => panic!("expected query results, got {other:?}"),
            }
        }
        found
    }

    pub fn send_mutation(&mut self, request_id: u32, udf_path: &str, args: Value) {
        self.send(&ClientMessage::Mutation { request_id, udf_path: udf_path.into(), args });
    }

    /// Sends a mutation and waits for its response (skipping up to 50 other frames).
    pub fn mutate(&mut self, request_id: u32, udf_path: &str, args: Value) -> MutationOutcome {
        self.send_mutation(request_id, udf_path, args);
        for _ in 0..50 {
            if let ServerMessage::MutationResponse { request_id: r, outcome } = self.recv() {
                if r == request_id {
                    return outcome;
                }
            }
        }
        panic!("no response to request {request_id}");
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).expect("send frame");
    }

    /// Sends a frame; `false` if the socket is gone (the server was killed).
    pub fn try_send_text(&mut self, text: &str) -> bool {
        self.ws.send(Message::text(text)).is_ok()
    }

    pub fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).expect("send frame");
    }

    /// The next server message, or `None` after `timeout` or once the server closed the socket.
    pub fn recv_until_closed(&mut self, timeout: Duration) -> Option<ServerMessage> {
        match self.next_text(timeout) {
            Next::Text(text) => Some(ServerMessage::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"))),
            Next::Timeout | Next::Closed(_) => None,
        }
    }

    /// The next server message, or `None` after `timeout`. Panics if the socket fails.
    pub fn recv_within(&mut self, timeout: Duration) -> Option<ServerMessage> {
        match self.next_text(timeout) {
            Next::Text(text) => Some(ServerMessage::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"))),
            Next::Timeout => None,
            Next::Closed(why) => panic!("socket failed: {why}"),
        }
    }

    /// The next message before `deadline` (`None`: timed out), or why the socket ended.
    fn read_before(&mut self, deadline: Instant) -> Option<Result<Message, String>> {
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(message) => return Some(Ok(message)),
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => return Some(Err(e.to_string())),
            }
        }
        None
    }

    /// The next text frame, a timeout, or the end of the socket (for chaos tests that kill
    /// the server under it).
    pub fn next_text(&mut self, timeout: Duration) -> Next {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_before(deadline) {
                None => return Next::Timeout,
                Some(Ok(Message::Text(text))) => return Next::Text(text.to_string()),
                Some(Ok(Message::Close(frame))) => return Next::Closed(format!("closed by the server: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Next::Closed(e),
            }
        }
    }

    /// The next server message; panics after [`FRAME_TIMEOUT`].
    pub fn recv(&mut self) -> ServerMessage {
        self.recv_within(FRAME_TIMEOUT).unwrap_or_else(|| panic!("no frame within {FRAME_TIMEOUT:?}"))
    }

    /// Whether the server closes the socket within `timeout` (frames before that are skipped).
    pub fn is_closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_before(deadline) {
                None => return false,
                Some(Ok(Message::Close(_)) | Err(_)) => return true,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Closes with `code` and waits for the server's close frame: its code, or `None` if the
    /// socket ended without one (the handshake was not completed).
    pub fn close_handshake(mut self, code: u16) -> Option<u16> {
        let frame = tungstenite::protocol::CloseFrame { code: code.into(), reason: "bye".into() };
        self.ws.close(Some(frame)).ok()?;
        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            match self.read_before(deadline)? {
                Ok(Message::Close(frame)) => return Some(frame.map_or(1005, |f| f.code.into())),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}
