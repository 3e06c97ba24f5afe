//! Subscriptions: running a query for a caller, storing it with its read set and result
//! hash, sharing runs, the per-connection and per-user caps, subscribe and unsubscribe.

use super::*;

/// A query run left for [`Room::continue_work`]: a re-run after an identity change, or a
/// subscription's first run.
pub(super) struct PendingRun {
    pub query_id: QueryId,
    /// The result hash the client resumed with, on a first run: the run confirms it
    /// (`QueryUnchanged`) instead of sending the result again.
    pub resumed: Option<String>,
}

impl<S: Sql> Room<S> {
    /// Runs a query once as a trusted admin, outside any subscription (tests' oracles,
    /// native hosts).
    pub fn query_once(&self, udf_path: &str, args: &Json) -> Result<Json, FnError> {
        self.run_query(udf_path, args, None, Some(&Identity::trusted(self.app.roles()))).result
    }

    /// Runs a registered query for a caller.
    pub(super) fn run_query(
        &self,
        udf_path: &str,
        args: &Json,
        journal: Option<String>,
        caller: Option<&Identity>,
    ) -> QueryRun {
        let (def, args) = match self.app.registry().resolve(udf_path, FunctionKind::Query, args, caller) {
            Ok(found) => found,
            Err(e) => return QueryRun::new(Err(e), ReadSet::default(), None),
        };
        let mut tx = Tx::reader(&self.sql, self.app.schema(), journal).for_caller(Caller::Client(caller.cloned()));
        let result = (def.handler)(&mut tx, &args).map(|v| v.to_json());
        let personal = tx.read_identity();
        let (read_set, _, journal) = tx.finish();
        let run = QueryRun::new(result, read_set, journal);
        if run.size > MAX_RESULT_BYTES {
            // Failed for this query alone, and kept (the data can shrink): never a frame that
            // an isolate's memory or every subscriber's bandwidth pays for.
            let too_large =
                FnError::ResultTooLarge { function: udf_path.to_string(), bytes: run.size, limit: MAX_RESULT_BYTES };
            return QueryRun { personal, ..QueryRun::new(Err(too_large), run.read_set, run.journal) };
        }
        QueryRun { personal, ..run }
    }

    pub(super) fn store_subscription(
        &mut self,
        conn: &ConnId,
        query_id: QueryId,
        run: &QueryRun,
    ) -> Result<(), StorageError> {
        self.sql.exec(
            "UPDATE _subs SET read_set = ?, journal = ?, result_hash = ? WHERE conn_id = ? AND query_id = ?",
            &[
                run.read_set_text.get_or_init(|| run.read_set.to_text()).clone().into(),
                run.journal.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null),
                run.hash.clone().into(),
                conn.as_str().into(),
                i64::from(query_id).into(),
            ],
        )?;
        self.remember_run(conn, query_id, run);
        Ok(())
    }

    /// The in-memory side of storing a run: the subscription index, the diff base, the row copy.
    pub(super) fn remember_run(&mut self, conn: &ConnId, query_id: QueryId, run: &QueryRun) {
        self.rows.set_run(&(conn.clone(), query_id), run.journal.clone(), &run.hash);
        self.subscriptions.insert((conn.clone(), query_id), &run.read_set);
        match &run.result {
            Ok(value) => self.results.remember((conn.clone(), query_id), run.hash.clone(), value, run.size),
            Err(_) => self.results.forget(&(conn.clone(), query_id)),
        }
    }

    /// Writes the runs of a fan-out to `_subs`: one `UPDATE` per shared run and query id
    /// for up to [`UPDATE_CHUNK`] connections, instead of one per subscriber.
    pub(super) fn flush_runs(&mut self, shared: &mut SharedRuns) -> Result<(), StorageError> {
        let mut groups: BTreeMap<(usize, QueryId), (Rc<QueryRun>, Vec<ConnId>)> = BTreeMap::new();
        for ((conn, query_id), run) in std::mem::take(&mut shared.stored) {
            let key = (Rc::as_ptr(&run) as usize, query_id);
            groups.entry(key).or_insert_with(|| (run, Vec::new())).1.push(conn);
        }
        for ((_, query_id), (run, conns)) in groups {
            let read_set = run.read_set_text.get_or_init(|| run.read_set.to_text()).clone();
            let journal = run.journal.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null);
            for chunk in conns.chunks(UPDATE_CHUNK) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let mut params: Vec<SqlValue> =
                    vec![read_set.clone().into(), journal.clone(), run.hash.clone().into(), i64::from(query_id).into()];
                params.extend(chunk.iter().map(|c| SqlValue::from(c.as_str())));
                self.sql.exec(
                    &format!(
                        "UPDATE _subs SET read_set = ?, journal = ?, result_hash = ? WHERE query_id = ? AND conn_id IN ({marks})"
                    ),
                    &params,
                )?;
            }
        }
        Ok(())
    }

    /// Why `more` subscriptions on `conn` signed in as `subject` would pass the user's limit, if
    /// they would. Counts the user's subscriptions on their other connections plus this
    /// connection's own: a socket that signs in brings its subscriptions along.
    pub(super) fn subscriptions_of(
        &mut self,
        conn: &ConnId,
        subject: &str,
        more: usize,
    ) -> Result<Option<String>, StorageError> {
        if matches!(self.auth, AuthPolicy::TrustAll) {
            return Ok(None);
        }
        let rows = self.sql.exec(
            "SELECT COUNT(*) FROM _subs WHERE conn_id = ? OR conn_id IN
               (SELECT conn_id FROM _conns WHERE json_extract(caller, '$.subject') = ? AND conn_id != ?)",
            &[conn.as_str().into(), subject.into(), conn.as_str().into()],
        )?;
        let held = rows.first().map(|r| int_at(r, 0)).unwrap_or(0) as usize;
        Ok((held + more > MAX_SUBSCRIPTIONS_PER_USER).then(|| user_limit_refusal(held)))
    }

    pub(super) fn subscribe(
        &mut self,
        conn: &ConnId,
        query_id: QueryId,
        udf_path: String,
        args: Json,
        result_hash: Option<String>,
        now_ms: f64,
    ) -> Result<Vec<Outgoing>, StorageError> {
        if self.writes_behind() {
            self.unsaved_of(conn)?;
        }
        let caller = self.caller_of(conn, now_ms)?;
        // What the checks need, in one statement: through the Durable Object's SQL boundary
        // each statement costs more than the checks, and a socket may send 400 subscribes
        // at once ahead of everyone else's frames.
        let user = caller.as_ref().filter(|_| !matches!(self.auth, AuthPolicy::TrustAll)).map(|c| c.subject.as_str());
        let held = self.sql.exec(
            "SELECT (SELECT COUNT(*) FROM _subs WHERE conn_id = ? AND query_id = ?),
                    COUNT(*), COALESCE(SUM(LENGTH(args)), 0),
                    (SELECT value FROM _meta WHERE key = 'ts'),
                    CASE WHEN ? IS NULL THEN 0 ELSE (SELECT COUNT(*) FROM _subs WHERE conn_id IN
                      (SELECT conn_id FROM _conns WHERE json_extract(caller, '$.subject') = ? AND conn_id != ?)) END
             FROM _subs WHERE conn_id = ?",
            &[
                conn.as_str().into(),
                i64::from(query_id).into(),
                user.map_or(SqlValue::Null, SqlValue::from),
                user.map_or(SqlValue::Null, SqlValue::from),
                conn.as_str().into(),
                conn.as_str().into(),
            ],
        )?;
        let at = |i: usize| held.first().map_or(0, |r| int_at(r, i));
        let (mut exists, mut count, mut held_bytes, ts, others) = (at(0) > 0, at(1), at(2), Ts(at(3) as u64), at(4));
        let unsaved = self.unsaved_holdings(conn, query_id);
        exists = (exists && !unsaved.removed) || unsaved.added;
        count += unsaved.count;
        held_bytes += unsaved.bytes;
        if count >= MAX_SUBSCRIPTIONS_PER_CONNECTION as i64 {
            return Ok(vec![error_to(
                conn,
                ErrorCode::LimitExceeded,
                format!(
                    "at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection; unsubscribe some first (queryId {query_id} refused)"
                ),
            )]);
        }
        if user.is_some() && (others + count) as usize >= MAX_SUBSCRIPTIONS_PER_USER {
            return Ok(vec![error_to(
                conn,
                ErrorCode::LimitExceeded,
                [user_limit_refusal((others + count) as usize), format!(" (queryId {query_id} refused)")].concat(),
            )]);
        }
        if exists {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadQueryId,
                format!("queryId {query_id} is already subscribed on this connection"),
            )]);
        }
        let start = self.connection_version(conn)?;
        let end = StateVersion { query_set: start.query_set + 1, ts, ..start };
        let args_bytes = args.to_string().len();
        if args_bytes > MAX_SUBSCRIPTION_ARGS_BYTES || held_bytes as usize + args_bytes > MAX_CONNECTION_ARGS_BYTES {
            // Answered for that query (its onError), neither run nor kept.
            let message = if args_bytes > MAX_SUBSCRIPTION_ARGS_BYTES {
                format!("arguments of {args_bytes} bytes are over the {MAX_SUBSCRIPTION_ARGS_BYTES}-byte limit of a subscription")
            } else {
                format!(
                    "this connection's subscriptions hold {held_bytes} bytes of arguments; {args_bytes} more would pass the {MAX_CONNECTION_ARGS_BYTES}-byte limit: unsubscribe some first"
                )
            };
            self.set_connection_version(conn, end)?;
            let failed = QueryModification::QueryFailed { query_id, code: ErrorCode::LimitExceeded, message };
            return Ok(vec![Outgoing {
                to: conn.clone(),
                message: ServerMessage::Transition {
                    start_version: start,
                    end_version: end,
                    modifications: vec![failed],
                },
            }]);
        }
        if self.limits.reruns_per_step.is_finite() {
            return self.subscribe_later(conn, query_id, (start, end), (udf_path, args), result_hash, caller);
        }
        let run = self.run_query(&udf_path, &args, None, caller.as_ref());
        // A call that can never succeed (no such function, invalid arguments) is answered
        // but not kept; a query that failed on the data is kept, since data can change.
        let keep = !matches!(run.result, Err(FnError::UnknownFunction { .. } | FnError::Validation(_)));
        if keep {
            self.rows.forget_sub(&(conn.clone(), query_id));
            self.sql.exec(
                "INSERT INTO _subs (conn_id, query_id, udf_path, args, read_set, journal, result_hash)
                 VALUES (?, ?, ?, ?, '[]', NULL, '')",
                &[conn.as_str().into(), i64::from(query_id).into(), udf_path.into(), args.to_string().into()],
            )?;
            self.store_subscription(conn, query_id, &run)?;
        }
        self.set_connection_version(conn, end)?;
        // Resuming with the same result: confirm it instead of sending it again.
        let modification = if keep && result_hash.as_deref() == Some(run.hash.as_str()) {
            QueryModification::QueryUnchanged { query_id }
        } else {
            run.modification(query_id)
        };
        Ok(vec![Outgoing {
            to: conn.clone(),
            message: ServerMessage::Transition {
                start_version: start,
                end_version: end,
                modifications: vec![modification],
            },
        }])
    }

    /// Subscribes now and runs the query in a later step ([`Room::continue_work`]), so that
    /// a socket's burst of subscriptions (a page opening, or a flood of 256 at once) costs
    /// each frame one read and other sockets' frames are served between the runs. The
    /// answer moves the query set with no result yet (the client shows it loading); the
    /// result follows in its own transition.
    ///
    /// Nothing is written here: the subscription and the connection's version are written
    /// behind (`write_behind`), before any other input and before the first run.
    ///
    /// A call that can never succeed (no such function, invalid arguments) is answered at
    /// once and not kept, as when it runs at once.
    fn subscribe_later(
        &mut self,
        conn: &ConnId,
        query_id: QueryId,
        (start, end): (StateVersion, StateVersion),
        (udf_path, args): (String, Json),
        resumed: Option<String>,
        caller: Option<Identity>,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let mut modifications = Vec::new();
        match self.app.registry().resolve(&udf_path, FunctionKind::Query, &args, caller.as_ref()) {
            Err(e @ (FnError::UnknownFunction { .. } | FnError::Validation(_))) => {
                modifications.push(QueryRun::new(Err(e), ReadSet::default(), None).modification(query_id));
            }
            _ => {
                self.add_unsaved(conn, NewSubscription { query_id, udf_path, args: args.to_string() })?;
                let run = PendingRun { query_id, resumed };
                match self.pending.back_mut() {
                    Some((last, runs)) if last == conn => runs.push(run),
                    _ => self.pending.push_back((conn.clone(), vec![run])),
                }
            }
        }
        self.unsaved_of(conn)?;
        self.rows.set_version(conn, end);
        Ok(vec![Outgoing {
            to: conn.clone(),
            message: ServerMessage::Transition { start_version: start, end_version: end, modifications },
        }])
    }

    pub(super) fn unsubscribe(&mut self, conn: &ConnId, query_id: QueryId) -> Result<Vec<Outgoing>, StorageError> {
        let removed = if self.writes_behind() {
            self.remove_unsaved(conn, query_id)?
        } else {
            let deleted = self.sql.exec(
                "DELETE FROM _subs WHERE conn_id = ? AND query_id = ? RETURNING query_id",
                &[conn.as_str().into(), i64::from(query_id).into()],
            )?;
            !deleted.is_empty()
        };
        if !removed {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadQueryId,
                format!("queryId {query_id} is not subscribed on this connection"),
            )]);
        }
        self.subscriptions.remove(&(conn.clone(), query_id));
        self.results.forget(&(conn.clone(), query_id));
        self.rows.forget_sub(&(conn.clone(), query_id));
        let start = self.connection_version(conn)?;
        let end = StateVersion { query_set: start.query_set + 1, ..start };
        if self.writes_behind() {
            self.rows.set_version(conn, end);
        } else {
            self.set_connection_version(conn, end)?;
        }
        Ok(vec![Outgoing {
            to: conn.clone(),
            message: ServerMessage::Transition {
                start_version: start,
                end_version: end,
                modifications: vec![QueryModification::QueryRemoved { query_id }],
            },
        }])
    }
}

/// Why a user holding `held` subscriptions may not hold more.
fn user_limit_refusal(held: usize) -> String {
    format!(
        "at most {MAX_SUBSCRIPTIONS_PER_USER} subscriptions per user over all their connections; this user holds {held}: close other tabs or unsubscribe some first"
    )
}
