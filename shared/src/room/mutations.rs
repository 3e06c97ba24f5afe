//! Mutations and exactly-once: a request already committed by the session is answered from
//! its record; otherwise the function runs in one transaction with its outcome record, then
//! the commit fans out.

use super::*;

impl<S: Sql> Room<S> {
    pub(super) fn mutate(
        &mut self,
        conn: &ConnId,
        request_id: RequestId,
        udf_path: &str,
        args: &Json,
        env: &mut dyn Environment,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let respond =
            |outcome| Outgoing { to: conn.clone(), message: ServerMessage::MutationResponse { request_id, outcome } };
        let caller = self.mutation_caller(conn, env.now_ms())?;
        // A signed-in user's allowance is shared by all their sockets; a signed-out socket
        // (or one whose token ran out) spends its address's, or its own.
        let who = self.spender_of(conn, env.now_ms())?;
        if let Err((message, _)) = self.take_mutation(who, env.now_ms()) {
            return Ok(vec![respond(MutationOutcome::Failure { code: ErrorCode::LimitExceeded, message })]);
        }
        let caller = match caller {
            Ok(caller) => caller,
            Err(e) => return Ok(vec![respond(MutationOutcome::Failure { code: e.code(), message: e.to_string() })]),
        };
        let session = self.session_of(conn)?;
        let call = call_digest(caller.as_ref(), udf_path, args);
        // A request this session already committed (re-sent after a reconnect): answer with
        // the recorded outcome, do not run it again — if it is the same call by the same
        // caller. Anything else reusing the id is refused, and learns nothing of the outcome.
        if let Some(session) = &session {
            let key: [SqlValue; 2] = [session.as_str().into(), i64::from(request_id).into()];
            let rows =
                self.sql.exec("SELECT result, ts FROM _mutations WHERE session_id = ? AND request_id = ?", &key)?;
            if let Some(row) = rows.first() {
                let bound =
                    self.sql.exec("SELECT call FROM _mutation_calls WHERE session_id = ? AND request_id = ?", &key)?;
                if bound.first().map(|r| text_at(r, 0)).transpose()?.is_some_and(|recorded| recorded != call) {
                    let message = format!(
                        "requestId {request_id} of this session was already used for another call (another function, \
                         other arguments or another caller); a new call needs a new requestId"
                    );
                    return Ok(vec![respond(MutationOutcome::Failure { code: ErrorCode::BadFrame, message })]);
                }
                let result = serde_json::from_str(&text_at(row, 0)?).unwrap_or(Json::Null);
                return Ok(vec![respond(MutationOutcome::Success { result, ts: Ts(int_at(row, 1) as u64) })]);
            }
        }
        let session = session.as_deref().map(|s| (s, request_id, call.as_str()));
        let (result, writes, ts) = match self.commit(udf_path, args, env, session, caller.as_ref()) {
            Ok(done) => done,
            Err(e) => return Ok(vec![respond(MutationOutcome::Failure { code: e.code(), message: e.to_string() })]),
        };
        // Transitions first, response last: when the caller's promise resolves, the write is
        // already in what it shows.
        let mut out = self.fan_out(&writes, ts, env.now_ms())?;
        out.push(respond(MutationOutcome::Success { result, ts }));
        Ok(out)
    }

    /// Runs a mutation and commits it atomically, recording its outcome for exactly-once
    /// re-sends when it comes from a session.
    pub(super) fn commit(
        &mut self,
        udf_path: &str,
        args: &Json,
        env: &mut dyn Environment,
        session: Option<(&str, RequestId, &str)>,
        caller: Option<&Identity>,
    ) -> Result<(Json, crate::engine::WriteSet, Ts), FnError> {
        let (def, args) = self.app.registry().resolve(udf_path, FunctionKind::Mutation, args, caller)?;
        self.sql
            .atomically(|| {
                let (result, writes, ts) = self.run_mutation(def, &args, env, caller)?;
                if let Some((session, request_id, call)) = session {
                    // Keep a bounded window: a client only ever re-sends its unanswered requests,
                    // which are its newest; outcomes of old commits are dropped.
                    let oldest = i64::from(request_id) - MUTATION_WINDOW;
                    self.sql.exec(
                        "DELETE FROM _mutation_calls WHERE (session_id = ? AND request_id < ?)
                         OR (session_id, request_id) IN (SELECT session_id, request_id FROM _mutations WHERE ts < ?)",
                        &[session.into(), oldest.into(), (ts.0 as i64 - MUTATION_TS_WINDOW).into()],
                    )?;
                    self.sql.exec(
                        "DELETE FROM _mutations WHERE (session_id = ? AND request_id < ?) OR ts < ?",
                        &[session.into(), oldest.into(), (ts.0 as i64 - MUTATION_TS_WINDOW).into()],
                    )?;
                    self.sql.exec(
                        "INSERT INTO _mutation_calls (session_id, request_id, call) VALUES (?, ?, ?)",
                        &[session.into(), i64::from(request_id).into(), call.into()],
                    )?;
                    self.sql.exec(
                        "INSERT INTO _mutations (session_id, request_id, result, ts) VALUES (?, ?, ?, ?)",
                        &[
                            session.into(),
                            i64::from(request_id).into(),
                            result.to_string().into(),
                            (ts.0 as i64).into(),
                        ],
                    )?;
                }
                Ok((result, writes, ts))
            })
            .inspect(|_| self.activity.commits += 1)
    }

    pub(super) fn run_mutation(
        &self,
        def: &FunctionDef,
        args: &crate::model::value::Value,
        env: &mut dyn Environment,
        caller: Option<&Identity>,
    ) -> Result<(Json, crate::engine::WriteSet, Ts), FnError> {
        let mut tx = Tx::writer(&self.sql, self.app.schema(), env).for_caller(Caller::Client(caller.cloned()));
        let result = (def.handler)(&mut tx, args)?;
        let (_, writes, _) = tx.finish();
        let ts = self.current_ts()?.next();
        self.sql.exec(
            "INSERT INTO _meta (key, value) VALUES ('ts', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[(ts.0 as i64).into()],
        )?;
        Ok((result.to_json(), writes, ts))
    }
}
