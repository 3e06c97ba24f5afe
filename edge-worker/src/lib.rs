//! Roomsync's edge worker: routes each room to its own Durable Object.
//!
//! Thin on purpose: routing, sockets and the storage adapter live here; every rule of the
//! protocol lives in `roomsync-shared` and is tested natively.

mod do_sql;
mod entropy;
mod room_object;

use roomsync_shared::endpoint::validate_room_name;
use worker::{event, Context, Env, Request, Response, Result, RouteContext, Router};

pub use room_object::RoomObject;

/// The Durable Object namespace binding declared in `wrangler.toml`.
const ROOMS_BINDING: &str = "ROOMS";

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
        return Response::error(problem.to_string(), 400);
    }
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Response::error("expected a WebSocket upgrade (Upgrade: websocket)", 426);
    }
    let stub = ctx.env.durable_object(ROOMS_BINDING)?.id_from_name(room)?.get_stub()?;
    stub.fetch_with_request(req).await
}
