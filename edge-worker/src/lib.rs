//! Roomsync's edge worker: routes each room to its own Durable Object.
//!
//! Thin on purpose: routing, CORS, sockets and the storage adapter live here; every rule of
//! the protocol lives in `roomsync-shared` and is tested natively.
//!
//! Routes:
//! - `GET /rooms/:room/sync` — the WebSocket of a live client;
//! - `POST /rooms/:room/query`, `POST /rooms/:room/mutation` — one-shot JSON calls
//!   (`{"udfPath", "args"}`, `Authorization: Bearer <token>`) for scripts, server-side
//!   rendering and clients without WebSockets;
//! - `GET /rooms/:room/stats` — the room's statistics, for its admins;
//! - `POST /rooms/:room/dev-token` — development tokens, only with `ROOMSYNC_DEV_TOKENS=1`;
//! - `GET /health`.

mod auth;
mod cors;
mod do_sql;
mod entropy;
mod error;
mod room_object;

use roomsync_shared::engine::App;
use roomsync_shared::protocol::endpoint::validate_room_name;
use std::sync::Arc;

/// The app this worker serves: the one place that names it (chosen by a cargo feature).
/// Everything else in the worker is generic over [`App`].
#[cfg(all(feature = "ngo-app", not(feature = "todo-app")))]
fn app() -> Arc<App> {
    roomsync_ngo_app::app()
}

#[cfg(feature = "todo-app")]
fn app() -> Arc<App> {
    roomsync_todo_app::app()
}

#[cfg(not(any(feature = "ngo-app", feature = "todo-app")))]
compile_error!("the worker serves one app: build it with the `ngo-app` (default) or the `todo-app` feature");
use worker::{event, Context, Env, Method, Request, Response, Result, RouteContext, Router};

use error::WorkerError;
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
        .get_async("/rooms/:room/stats", route_call)
        .post_async("/rooms/:room/__evict", route_call)
        .post_async("/rooms/:room/dev-token", route_dev_token)
        .run(req, env)
        .await?;
    cors::decorate(response, origin.as_deref(), &allowed)
}

/// The validated room name of the route.
fn room_name(ctx: &RouteContext<()>) -> std::result::Result<String, WorkerError> {
    let room = ctx.param("room").map(String::as_str).unwrap_or_default();
    validate_room_name(room).map_err(|problem| WorkerError::BadRoom(problem.to_string()))?;
    Ok(room.to_string())
}

/// Forwards the request to the room's Durable Object, telling it its name (which it needs
/// to check that tokens were issued for it).
async fn forward(req: Request, ctx: &RouteContext<()>) -> std::result::Result<Response, WorkerError> {
    let room = room_name(ctx)?;
    // Not configured: refused here, without waking the room.
    auth::secret(&ctx.env)?;
    // Set here, after validation: a client cannot choose it (any header it sent is replaced).
    let mut req = req.clone_mut()?;
    req.headers_mut()?.set(room_object::ROOM_HEADER, &room)?;
    let namespace = ctx.env.durable_object(ROOMS_BINDING)?;
    Ok(namespace.id_from_name(&room)?.get_stub()?.fetch_with_request(req).await?)
}

async fn route_socket(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let socket = async {
        room_name(&ctx)?;
        let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
        if !upgrade.eq_ignore_ascii_case("websocket") {
            return Err(WorkerError::NotWebSocket);
        }
        forward(req, &ctx).await
    };
    error::answer(socket.await)
}

async fn route_call(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    error::answer(forward(req, &ctx).await)
}

async fn route_dev_token(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let token = async {
        let room = room_name(&ctx)?;
        auth::dev_token(req, &ctx.env, &room).await
    };
    error::answer(token.await)
}
