//! Fan-out: after a commit, the subscriptions whose read sets the writes touch re-run, and
//! each connection gets one transition with the results (or diffs) that changed.

use super::*;

impl<S: Sql> Room<S> {
    /// Re-runs the subscriptions a commit affected and sends each connection whose results
    /// changed one transition to `ts`.
    pub(super) fn fan_out(
        &mut self,
        writes: &crate::engine::WriteSet,
        ts: Ts,
        now_ms: f64,
    ) -> Result<Vec<Outgoing>, StorageError> {
        let affected = self.subscriptions.affected(writes);
        let rerun = affected.len();
        let mut changed: BTreeMap<ConnId, Vec<QueryModification>> = BTreeMap::new();
        let mut shared = SharedRuns::default();
        for (conn, query_id) in affected {
            // From the row copy: no storage read per subscription.
            let caller = self.caller_of(&conn, now_ms)?;
            if let Some(modification) = self.rerun(&conn, query_id, caller.as_ref(), &mut shared)? {
                changed.entry(conn).or_default().push(modification);
            }
        }
        self.flush_runs(&mut shared)?;
        let mut out = Vec::with_capacity(changed.len());
        for (conn, modifications) in changed {
            let start = self.connection_version(&conn)?;
            let end = StateVersion { ts, ..start };
            out.push(Outgoing {
                to: conn,
                message: ServerMessage::Transition { start_version: start, end_version: end, modifications },
            });
        }
        // A fan-out moves only the commit timestamp of each connection it reaches.
        let conns: Vec<&ConnId> = out.iter().map(|o| &o.to).collect();
        for chunk in conns.chunks(UPDATE_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut params: Vec<SqlValue> = vec![(ts.0 as i64).into()];
            params.extend(chunk.iter().map(|c| SqlValue::from(c.as_str())));
            self.sql.exec(&format!("UPDATE _conns SET ts = ? WHERE conn_id IN ({marks})"), &params)?;
        }
        for o in &out {
            if let ServerMessage::Transition { end_version, .. } = &o.message {
                self.rows.set_version(&o.to, *end_version);
            }
        }
        self.activity.record_fan_out(now_ms, ts, rerun, &out);
        Ok(out)
    }

    /// Re-runs one subscription for `caller`; the modification to send when its result
    /// changed (a diff against the result the client holds when that is clearly smaller).
    pub(super) fn rerun(
        &mut self,
        conn: &ConnId,
        query_id: QueryId,
        caller: Option<&Identity>,
        shared: &mut SharedRuns,
    ) -> Result<Option<QueryModification>, StorageError> {
        let Some(row) = self.rows.sub(&self.sql, &(conn.clone(), query_id))? else { return Ok(None) };
        let rows::SubRow { udf_path, args: args_text, journal, result_hash: old_hash } = row;
        let key = |who: String| (udf_path.clone(), args_text.clone(), journal.clone(), who);
        let found = shared
            .runs
            .get(&key(SharedRuns::role_key(caller)))
            .or_else(|| shared.runs.get(&key(SharedRuns::caller_key(caller))))
            .cloned();
        let run = match found {
            Some(run) => run,
            None => {
                let args: Json = serde_json::from_str(&args_text).unwrap_or(Json::Null);
                let run = Rc::new(self.run_query(&udf_path, &args, journal.clone(), caller));
                let who = if run.personal { SharedRuns::caller_key(caller) } else { SharedRuns::role_key(caller) };
                shared.runs.insert(key(who), run.clone());
                run
            }
        };
        if run.hash == old_hash {
            // Same result: keep the new read set (it may differ), send nothing.
            self.remember_run(conn, query_id, &run);
            shared.stored.push(((conn.clone(), query_id), run));
            return Ok(None);
        }
        let key = (conn.clone(), query_id);
        let base = self.results.base(&key, &old_hash);
        let diff = match (&run.result, base) {
            (Ok(new), Some((old, old_size))) => shared
                .diffs
                .entry((old_hash.clone(), run.hash.clone()))
                .or_insert_with(|| {
                    let diff = ValueDiff::compute(&old, new);
                    // A diff only when it is clearly smaller than the result itself.
                    (diff.to_json().to_string().len() * 3 < old_size.max(64) * 2).then_some(diff)
                })
                .clone(),
            _ => None,
        };
        let modification = match diff {
            Some(diff) => QueryModification::QueryDiff { query_id, base_hash: old_hash, hash: run.hash.clone(), diff },
            None => run.modification(query_id),
        };
        self.remember_run(conn, query_id, &run);
        shared.stored.push(((conn.clone(), query_id), run));
        Ok(Some(modification))
    }
}

/// A read set covering every index of every table: the safe fallback.
pub(super) fn everything(schema: &Schema) -> ReadSet {
    let mut read_set = ReadSet::default();
    for table in schema.tables() {
        read_set.add(crate::engine::read_set::KeyRange::prefix(&table.name, crate::engine::tx::BY_ID, Vec::new()));
        for (index, _) in store::indexes(table) {
            read_set.add(crate::engine::read_set::KeyRange::prefix(&table.name, &index, Vec::new()));
        }
    }
    read_set
}
