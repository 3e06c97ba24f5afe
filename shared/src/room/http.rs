//! One-shot calls over HTTP (`POST /rooms/:room/query|mutation`): the same functions, the
//! caller from the `Authorization` header, allowances per token or address.

use super::*;

impl<S: Sql> Room<S> {
    /// A one-shot call over HTTP (`POST /rooms/:room/query` or `/mutation`) for scripts,
    /// server-side rendering and clients without WebSockets. `body` is
    /// `{"udfPath": "…", "args": {…}}`. A mutation's updates reach live subscribers like any
    /// other: deliver the returned frames. `authorization` is the request's
    /// `Authorization` header (`Bearer <token>`); without it the call is signed out.
    pub fn http_call(
        &mut self,
        kind: FunctionKind,
        body: &str,
        authorization: Option<&str>,
        env: &mut dyn Environment,
    ) -> (HttpReply, Vec<Outgoing>) {
        self.http_call_from(kind, body, authorization, None, env)
    }

    /// [`Room::http_call`] from a client `address` the host vouches for (the edge's
    /// `CF-Connecting-IP`): signed-out mutations spend that address's allowance (all
    /// signed-out callers share one without it); signed-in ones spend their user's, which
    /// their sockets share too.
    pub fn http_call_from(
        &mut self,
        kind: FunctionKind,
        body: &str,
        authorization: Option<&str>,
        address: Option<&str>,
        env: &mut dyn Environment,
    ) -> (HttpReply, Vec<Outgoing>) {
        self.activity.woke_at_ms.get_or_insert(env.now_ms());
        if let Err(e) = self.save_connection_state() {
            return (HttpReply::error(ErrorCode::Internal, e.to_string()), Vec::new());
        }
        let fail = |code: ErrorCode, message: String| (HttpReply::error(code, message), Vec::new());
        let caller = match self.http_caller(authorization, env.now_ms()) {
            Ok(caller) => caller,
            Err(reply) => return (reply, Vec::new()),
        };
        let who = match &caller {
            Some(identity) if !self.trusts_all() => Spender::User(identity.subject.clone()),
            _ => Spender::Address(address.unwrap_or_default().to_string()),
        };
        let work = match kind {
            FunctionKind::Mutation => limits::MUTATION_WORK,
            FunctionKind::Query => limits::HTTP_QUERY_WORK,
        };
        let taken = match kind {
            FunctionKind::Mutation => self.take_mutation(who.clone(), env.now_ms()),
            FunctionKind::Query => self.take_http_query(who.clone(), env.now_ms()),
        }
        .and_then(|()| {
            // The same room time as the client's sockets spend.
            let (rate, burst) = (self.limits.work_per_second, self.limits.work_burst);
            self.allowances.work(&self.limits, who.clone(), work, env.now_ms()).map_err(|wait_ms| {
                (refusal_text("calls (a mutation counts as ten frames)", &who, rate, burst, wait_ms), wait_ms)
            })
        });
        if let Err((message, wait_ms)) = taken {
            let mut reply = HttpReply::error(ErrorCode::LimitExceeded, message);
            reply.body["retryAfterMs"] = wait_ms.into();
            return (reply, Vec::new());
        }
        if body.len() > MAX_FRAME_BYTES {
            return fail(
                ErrorCode::BadFrame,
                format!("body of {} bytes is over the {MAX_FRAME_BYTES}-byte limit", body.len()),
            );
        }
        let request: Json = match serde_json::from_str(body) {
            Ok(json) => json,
            Err(e) => return fail(ErrorCode::BadFrame, format!("body is not JSON: {e}")),
        };
        let Some(udf_path) = request.get("udfPath").and_then(Json::as_str) else {
            return fail(ErrorCode::BadFrame, "body must be {\"udfPath\": \"table:function\", \"args\": {…}}".into());
        };
        let args = request.get("args").cloned().unwrap_or(Json::Null);
        match kind {
            FunctionKind::Query => match self.run_query(udf_path, &args, None, caller.as_ref()).result {
                Ok(value) => (HttpReply { status: 200, body: serde_json::json!({"value": value}) }, Vec::new()),
                Err(e) => fail(e.code(), e.to_string()),
            },
            FunctionKind::Mutation => match self.commit(udf_path, &args, env, None, caller.as_ref()) {
                Ok((result, writes, ts)) => {
                    let out = self.fan_out(&writes, ts, env.now_ms()).unwrap_or_default();
                    (HttpReply { status: 200, body: serde_json::json!({"result": result, "ts": ts}) }, out)
                }
                Err(e) => fail(e.code(), e.to_string()),
            },
        }
    }
}
