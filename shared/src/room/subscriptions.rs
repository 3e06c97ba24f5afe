//! Subscriptions: running a query for a caller, storing it with its read set and result
//! hash, sharing runs, the per-connection and per-user caps, subscribe and unsubscribe.

use super::fanout::transition_frames;
use super::*;

/// What a connection holds, for the subscribe checks.
struct Held {
    /// Its query ids.
    ids: std::collections::HashSet<QueryId>,
    count: i64,
    /// Bytes of its subscriptions' arguments.
    bytes: i64,
    /// The room's timestamp.
    ts: Ts,
    /// The subscriptions its user holds on other connections (`None`: not a user the limit
    /// applies to).
    others: Option<i64>,
}

impl Held {
    fn add(&mut self, query_id: QueryId, args_bytes: usize) {
        self.ids.insert(query_id);
        self.count += 1;
        self.bytes += args_bytes as i64;
    }
}

/// Whether a query may be subscribed.
enum Admission {
    Admitted,
    /// Refused: nothing changes (a `subscribe` answers it with an error frame).
    Refused(ErrorCode, String),
    /// Failed for that query (its `onError`): answered in the transition, not kept.
    Failed(String),
}

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

    /// `subscribe`: one query. A refusal (a limit, an id in use) is an error frame and
    /// changes nothing; otherwise the query set moves, with the result or (when the host
    /// steps the work) with the result to follow.
    pub(super) fn subscribe(
        &mut self,
        conn: &ConnId,
        query: QuerySubscription,
        now_ms: f64,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let (caller, mut held) = self.held(conn, now_ms)?;
        let query_id = query.query_id;
        let modification = match self.admit(&held, &query) {
            Admission::Refused(code, message) => return Ok(vec![error_to(conn, code, message)]),
            Admission::Failed(message) => {
                Some((QueryModification::QueryFailed { query_id, code: ErrorCode::LimitExceeded, message }, 0))
            }
            Admission::Admitted => self.add_subscription(conn, query, caller.as_ref(), &mut held)?,
        };
        let (start, end) = self.move_query_set(conn, held.ts)?;
        Ok(transition_frames(conn, start, end, modification.into_iter().collect()))
    }

    /// `subscribeMany`: each query as `subscribe` would take it, answered in one transition
    /// (refusals fail their query in it).
    pub(super) fn subscribe_many(
        &mut self,
        conn: &ConnId,
        queries: Vec<QuerySubscription>,
        now_ms: f64,
    ) -> Result<Vec<Outgoing>, StorageError> {
        if queries.len() > MAX_SUBSCRIPTIONS_PER_CONNECTION {
            return Ok(vec![error_to(
                conn,
                ErrorCode::BadFrame,
                format!(
                    "subscribeMany holds {} queries; at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} a frame",
                    queries.len()
                ),
            )]);
        }
        let (caller, mut held) = self.held(conn, now_ms)?;
        let mut modifications = Vec::new();
        for query in queries {
            let query_id = query.query_id;
            let failed = |code, message| Some((QueryModification::QueryFailed { query_id, code, message }, 0));
            let modification = match self.admit(&held, &query) {
                Admission::Refused(code, message) => failed(code, message),
                Admission::Failed(message) => failed(ErrorCode::LimitExceeded, message),
                Admission::Admitted => self.add_subscription(conn, query, caller.as_ref(), &mut held)?,
            };
            modifications.extend(modification);
        }
        let (start, end) = self.move_query_set(conn, held.ts)?;
        Ok(transition_frames(conn, start, end, modifications))
    }

    /// The caller of `conn` and what it holds, for the subscribe checks: one statement (through
    /// the Durable Object's SQL boundary each costs more than the checks), with what the
    /// connection's burst has not written yet.
    fn held(&mut self, conn: &ConnId, now_ms: f64) -> Result<(Option<Identity>, Held), StorageError> {
        let caller = self.caller_of(conn, now_ms)?;
        let user = caller.as_ref().filter(|_| !matches!(self.auth, AuthPolicy::TrustAll)).map(|c| c.subject.clone());
        let subject = user.as_deref().map_or(SqlValue::Null, SqlValue::from);
        let rows = self.sql.exec(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(args AS BLOB))), 0), COALESCE(group_concat(query_id), ''),
                    (SELECT value FROM _meta WHERE key = 'ts'),
                    CASE WHEN ? IS NULL THEN 0 ELSE (SELECT COUNT(*) FROM _subs WHERE conn_id IN
                      (SELECT conn_id FROM _conns WHERE json_extract(caller, '$.subject') = ? AND conn_id != ?)) END
             FROM _subs WHERE conn_id = ?",
            &[subject.clone(), subject, conn.as_str().into(), conn.as_str().into()],
        )?;
        let row = rows.first();
        let at = |i: usize| row.map_or(0, |r| int_at(r, i));
        let ids = row.and_then(|r| r.get(2)).and_then(SqlValue::as_text).unwrap_or_default();
        let mut held = Held {
            ids: ids.split(',').filter_map(|id| id.parse().ok()).collect(),
            count: at(0),
            bytes: at(1),
            ts: Ts(at(3) as u64),
            others: match &user {
                // With what the user's other sockets' bursts have not written yet.
                Some(subject) => Some(at(4) + self.unsaved_of_user(conn, subject)?),
                None => None,
            },
        };
        self.apply_unsaved(conn, &mut held);
        Ok((caller, held))
    }

    /// Adds what `conn`'s burst changed and storage does not hold yet to `held`.
    fn apply_unsaved(&self, conn: &ConnId, held: &mut Held) {
        let (new, removed) = self.unsaved_changes(conn);
        for (query_id, bytes) in removed {
            held.ids.remove(query_id);
            held.count -= 1;
            held.bytes -= *bytes as i64;
        }
        for s in new {
            held.add(s.query_id, s.args.len());
        }
    }

    /// Whether `query` may be added to what the connection holds.
    fn admit(&self, held: &Held, query: &QuerySubscription) -> Admission {
        let query_id = query.query_id;
        if held.count >= MAX_SUBSCRIPTIONS_PER_CONNECTION as i64 {
            return Admission::Refused(
                ErrorCode::LimitExceeded,
                format!(
                    "at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection; unsubscribe some first (queryId {query_id} refused)"
                ),
            );
        }
        if let Some(others) = held.others.filter(|others| (others + held.count) as usize >= MAX_SUBSCRIPTIONS_PER_USER)
        {
            return Admission::Refused(
                ErrorCode::LimitExceeded,
                [user_limit_refusal((others + held.count) as usize), format!(" (queryId {query_id} refused)")].concat(),
            );
        }
        if held.ids.contains(&query_id) {
            return Admission::Refused(
                ErrorCode::BadQueryId,
                format!("queryId {query_id} is already subscribed on this connection"),
            );
        }
        let args_bytes = query.args.to_string().len();
        if args_bytes > MAX_SUBSCRIPTION_ARGS_BYTES {
            return Admission::Failed(format!(
                "arguments of {args_bytes} bytes are over the {MAX_SUBSCRIPTION_ARGS_BYTES}-byte limit of a subscription"
            ));
        }
        if held.bytes.max(0) as usize + args_bytes > MAX_CONNECTION_ARGS_BYTES {
            return Admission::Failed(format!(
                "this connection's subscriptions hold {} bytes of arguments; {args_bytes} more would pass the {MAX_CONNECTION_ARGS_BYTES}-byte limit: unsubscribe some first",
                held.bytes
            ));
        }
        Admission::Admitted
    }

    /// Adds an admitted subscription: runs it now, or (when the host steps the work) keeps it
    /// in memory and runs it later. What to send for it now, if anything.
    fn add_subscription(
        &mut self,
        conn: &ConnId,
        query: QuerySubscription,
        caller: Option<&Identity>,
        held: &mut Held,
    ) -> Result<Option<(QueryModification, usize)>, StorageError> {
        let QuerySubscription { query_id, udf_path, args, result_hash } = query;
        let args_text = args.to_string();
        if self.writes_behind() {
            let later = self.subscribe_later(conn, query_id, (udf_path, args), result_hash, caller)?;
            if later.is_none() {
                held.add(query_id, args_text.len());
            }
            return Ok(later);
        }
        let run = self.run_query(&udf_path, &args, None, caller);
        // A call that can never succeed (no such function, invalid arguments) is answered
        // but not kept; a query that failed on the data is kept, since data can change.
        let keep = !matches!(run.result, Err(FnError::UnknownFunction { .. } | FnError::Validation(_)));
        if keep {
            self.rows.forget_sub(&(conn.clone(), query_id));
            self.sql.exec(
                "INSERT INTO _subs (conn_id, query_id, udf_path, args, read_set, journal, result_hash)
                 VALUES (?, ?, ?, ?, '[]', NULL, '')",
                &[conn.as_str().into(), i64::from(query_id).into(), udf_path.into(), args_text.as_str().into()],
            )?;
            self.store_subscription(conn, query_id, &run)?;
            held.add(query_id, args_text.len());
        }
        // Resuming with the same result: confirm it instead of sending it again.
        Ok(Some(if keep && result_hash.as_deref() == Some(run.hash.as_str()) {
            (QueryModification::QueryUnchanged { query_id }, 0)
        } else {
            (run.modification(query_id), run.size)
        }))
    }

    /// Moves the connection's query set by one (at the room's timestamp `ts`): written
    /// behind, or now.
    fn move_query_set(&mut self, conn: &ConnId, ts: Ts) -> Result<(StateVersion, StateVersion), StorageError> {
        let start = self.connection_version(conn)?;
        let end = StateVersion { query_set: start.query_set + 1, ts: ts.max(start.ts), ..start };
        if self.writes_behind() {
            self.unsaved_of(conn);
            self.rows.set_version(conn, end);
        } else {
            self.set_connection_version(conn, end)?;
        }
        Ok((start, end))
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
        (udf_path, args): (String, Json),
        resumed: Option<String>,
        caller: Option<&Identity>,
    ) -> Result<Option<(QueryModification, usize)>, StorageError> {
        if let Err(e @ (FnError::UnknownFunction { .. } | FnError::Validation(_))) =
            self.app.registry().resolve(&udf_path, FunctionKind::Query, &args, caller)
        {
            return Ok(Some((QueryRun::new(Err(e), ReadSet::default(), None).modification(query_id), 0)));
        }
        self.add_unsaved(conn, NewSubscription { query_id, udf_path, args: args.to_string() })?;
        let run = PendingRun { query_id, resumed };
        match self.pending.back_mut() {
            Some((last, runs)) if last == conn => runs.push(run),
            _ => self.pending.push_back((conn.clone(), vec![run])),
        }
        Ok(None)
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
