//! Roomsync's edge worker: routes each room to its own Durable Object.
//!
//! Thin on purpose: routing, CORS, sockets and the storage adapter live here; every rule of
//! the protocol lives in `roomsync-shared` and is tested natively.
//!
//! Routes:
//! - `GET /rooms/:room/sync` — the WebSocket of a live client;
//! - `POST /rooms/:room/query`, `POST /rooms/:room/mutation` — one-shot JSON calls
//!   (`{"udfPath", "args"}`) for scripts, server-side rendering and clients without WebSockets;
//! - `GET /health`.

mod cors;
mod do_sql;
mod entropy;
mod room_object;

use roomsync_shared::endpoint::validate_room_name;
use worker::{event, Context, Env, Method, Request, Response, Result, RouteContext, Router};

pub use room_object::RoomObject;

/// The Durable Object namespace binding declared in `wrangler.toml`.
const ROOMS_BINDING: &str = "ROOMS";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let origin = req.headers().get("Origin")?;
    let allowed = cors::allowed_origins(&env);
    if req.method() == Method::Options {
        return cors::preflight(origin.as_deref(), &allowed);
    }
    let response = Router::new()
        .get("/health", |_, _| Response::ok("ok"))
        .get_async("/rooms/:room/sync", route_socket)
        .post_async("/rooms/:room/query", route_call)
        .post_async("/rooms/:room/mutation", route_call)
        .run(req, env)
        .await?;
    cors::decorate(response, origin.as_deref(), &allowed)
}

/// The room's Durable Object, or the response that refuses the request.
fn room_stub(ctx: &RouteContext<()>) -> Result<std::result::Result<worker::Stub, Response>> {
    let room = ctx.param("room").map(String::as_str).unwrap_or_default();
    if let Err(problem) = validate_room_name(room) {
        return Ok(Err(Response::error(problem.to_string(), 400)?));
    }
    let namespace = ctx.env.durable_object(ROOMS_BINDING)?;
    Ok(Ok(namespace.id_from_name(room)?.get_stub()?))
}

async fn route_socket(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let stub = match room_stub(&ctx)? {
        Ok(stub) => stub,
        Err(response) => return Ok(response),
    };
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Response::error("expected a WebSocket upgrade (Upgrade: websocket)", 426);
    }
    stub.fetch_with_request(req).await
}

async fn route_call(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    match room_stub(&ctx)? {
        Ok(stub) => stub.fetch_with_request(req).await,
        Err(response) => Ok(response),
    }
}
