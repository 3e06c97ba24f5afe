//! Fan-out: after a commit, the subscriptions whose read sets the writes touch re-run, and
//! each connection gets one transition with the results (or diffs) that changed.

use super::*;

/// Most bytes of results one transition frame carries. A transition over it goes out as
/// several frames — the first moves the connection's version, the others continue at the new
/// one — so that neither the room nor the client holds one text of all of a connection's
/// results at once (an identity change re-runs up to 256 queries of up to 2 MiB each). One
/// result is never split: a frame holds at least one modification.
pub const TRANSITION_BYTES: usize = 1024 * 1024;

/// The frames of one connection's transition from `start` to `end` (each modification with
/// the size of its result), at most about [`TRANSITION_BYTES`] each.
pub(super) fn transition_frames(
    to: &ConnId,
    start: StateVersion,
    end: StateVersion,
    modifications: Vec<(QueryModification, usize)>,
) -> Vec<Outgoing> {
    let mut parts: Vec<Vec<QueryModification>> = vec![Vec::new()];
    let mut bytes = 0usize;
    for (modification, size) in modifications {
        if bytes > 0 && bytes.saturating_add(size) > TRANSITION_BYTES {
            parts.push(Vec::new());
            bytes = 0;
        }
        bytes = bytes.saturating_add(size.max(1));
        if let Some(part) = parts.last_mut() {
            part.push(modification);
        }
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(i, modifications)| Outgoing {
            to: to.clone(),
            message: ServerMessage::Transition {
                start_version: if i == 0 { start } else { end },
                end_version: end,
                modifications,
            },
        })
        .collect()
}

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
        let mut changed: BTreeMap<ConnId, Vec<(QueryModification, usize)>> = BTreeMap::new();
        let mut shared = SharedRuns::default();
        for (conn, query_id) in affected {
            // From the row copy: no storage read per subscription.
            let caller = self.caller_of(&conn, now_ms)?;
            if let Some(modification) = self.rerun(&conn, query_id, caller.as_ref(), &mut shared, None)? {
                changed.entry(conn).or_default().push(modification);
            }
        }
        self.flush_runs(&mut shared)?;
        let mut out = Vec::with_capacity(changed.len());
        let mut versions = Vec::with_capacity(changed.len());
        for (conn, modifications) in changed {
            let start = self.connection_version(&conn)?;
            let end = StateVersion { ts, ..start };
            out.extend(transition_frames(&conn, start, end, modifications));
            versions.push((conn, end));
        }
        // A fan-out moves only the commit timestamp of each connection it reaches.
        let conns: Vec<&ConnId> = versions.iter().map(|(conn, _)| conn).collect();
        for chunk in conns.chunks(UPDATE_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut params: Vec<SqlValue> = vec![(ts.0 as i64).into()];
            params.extend(chunk.iter().map(|c| SqlValue::from(c.as_str())));
            self.sql.exec(&format!("UPDATE _conns SET ts = ? WHERE conn_id IN ({marks})"), &params)?;
        }
        for (conn, end) in &versions {
            self.rows.set_version(conn, *end);
        }
        self.activity.record_fan_out(now_ms, ts, rerun, &out);
        Ok(out)
    }

    /// Re-runs one subscription for `caller`; the modification to send when its result
    /// changed (a diff against the result the client holds when that is clearly smaller),
    /// with the size of the result's text (an upper bound of a diff's).
    pub(super) fn rerun(
        &mut self,
        conn: &ConnId,
        query_id: QueryId,
        caller: Option<&Identity>,
        shared: &mut SharedRuns,
        resumed: Option<&str>,
    ) -> Result<Option<(QueryModification, usize)>, StorageError> {
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
        if run.hash == old_hash || resumed == Some(run.hash.as_str()) {
            // Same result: keep the new read set (it may differ), send nothing — or, to a
            // client that resumed with this result, confirm it.
            let confirm = run.hash != old_hash;
            self.remember_run(conn, query_id, &run);
            shared.stored.push(((conn.clone(), query_id), run));
            return Ok(confirm.then_some((QueryModification::QueryUnchanged { query_id }, 0)));
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
        let size = run.size;
        self.remember_run(conn, query_id, &run);
        shared.stored.push(((conn.clone(), query_id), run));
        Ok(Some((modification, size)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::frame::Incoming;
    use crate::client::{ClientCore, ClientEvent};
    use serde_json::json;

    #[test]
    fn a_large_transition_goes_as_frames_the_client_applies_in_order() {
        let conn = ConnId::from_stored("c".into());
        let start = StateVersion { query_set: 3, identity: 1, ts: Ts(7) };
        let end = StateVersion { identity: 2, ts: Ts(9), ..start };
        let kib = 1024;
        let modification = |query_id: QueryId| {
            let value = json!({"n": query_id});
            (QueryModification::QueryUpdated { query_id, value, hash: format!("h{query_id}") }, 400 * kib)
        };
        let mut modifications: Vec<_> = (1..=5).map(modification).collect();
        // One result over the bound alone: never split, in a frame of its own.
        modifications.insert(2, (QueryModification::QueryRemoved { query_id: 9 }, 3 * 1024 * kib));
        let frames = transition_frames(&conn, start, end, modifications);
        let shapes: Vec<(StateVersion, Vec<QueryId>)> = frames
            .iter()
            .map(|o| match &o.message {
                ServerMessage::Transition { start_version, end_version, modifications } => {
                    assert_eq!(*end_version, end);
                    let ids = modifications
                        .iter()
                        .map(|m| match m {
                            QueryModification::QueryUpdated { query_id, .. }
                            | QueryModification::QueryRemoved { query_id } => *query_id,
                            other => panic!("{other:?}"),
                        })
                        .collect();
                    (*start_version, ids)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(shapes, vec![(start, vec![1, 2]), (end, vec![9]), (end, vec![3, 4]), (end, vec![5])]);
        // A small transition stays one frame.
        assert_eq!(transition_frames(&conn, start, end, vec![modification(1)]).len(), 1);
        assert_eq!(transition_frames(&conn, start, end, Vec::new()).len(), 1);

        // The client applies the frames one after the other without resyncing.
        let mut core: ClientCore<serde_json::Value> = ClientCore::new("session-0123456789abcdef".into());
        let ids: Vec<QueryId> =
            (0..5).filter_map(|n| core.subscribe("tasks:list", json!({"n": n})).ok()).map(|(id, _)| id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        let first = StateVersion { query_set: 0, identity: 0, ts: Ts(0) };
        let frames =
            transition_frames(&conn, first, StateVersion { ts: Ts(9), ..first }, (1..=5).map(modification).collect());
        assert_eq!(frames.len(), 3);
        let mut updated = 0;
        for frame in frames {
            for event in core.receive_frame(Incoming::from(frame.message)) {
                match event {
                    ClientEvent::Query { .. } => updated += 1,
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(updated, 5, "every result shown, no resync");
    }
}
