//! Roomsync's edge worker: routes each room to its own Durable Object.
//!
//! Thin on purpose: routing, sockets and the storage adapter live here; every rule of the
//! protocol lives in `roomsync-shared` and is tested natively.

mod do_sql;
mod entropy;
mod room_object;

use worker::{event, Context, Env, Request, Response, Result, RouteContext, Router};

pub use room_object::RoomObject;

/// The Durable Object namespace binding declared in `wrangler.toml`.
const ROOMS_BINDING: &str = "ROOMS";
/// Longest room name accepted.
const MAX_ROOM_NAME: usize = 64;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Router::new()
        .get("/health", |_, _| Response::ok("ok"))
        .get_async("/rooms/:room/sync", route_to_room)
        .run(req, env)
        .await
}

async fn route_to_room(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let room = ctx.param("room").map(String::as_str).unwrap_or_default();
    if let Err(problem) = validate_room_name(room) {
        return Response::error(problem, 400);
    }
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Response::error("expected a WebSocket upgrade (Upgrade: websocket)", 426);
    }
    let stub = ctx.env.durable_object(ROOMS_BINDING)?.id_from_name(room)?.get_stub()?;
    stub.fetch_with_request(req).await
}

/// Room names become Durable Object names and appear in URLs and logs: keep them plain.
fn validate_room_name(room: &str) -> std::result::Result<(), String> {
    if room.is_empty() || room.len() > MAX_ROOM_NAME {
        return Err(format!("room name must be 1 to {MAX_ROOM_NAME} characters, got {}", room.len()));
    }
    match room.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        Some(bad) => Err(format!("room name may only hold letters, digits, '-' and '_'; found {bad:?}")),
        None => Ok(()),
    }
}
