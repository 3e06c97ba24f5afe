//! The to-do app under the property tests: items (counted) on two lists, toggled, removed
//! and searched; lists with a unique name.

use super::{nth_id, Lookup, Workload};
use roomsync_shared::engine::App;
use serde_json::{json, Value as Json};
use std::sync::Arc;

const WORDS: [&str; 3] = ["süt", "Ekmek", "çay"];

pub struct Todo;

impl Workload for Todo {
    fn app(&self) -> Arc<App> {
        roomsync_todo_app::app()
    }

    fn setup(&self, mutate: &mut dyn FnMut(&str, Json) -> Json) -> Vec<String> {
        ["Ev", "İş"]
            .into_iter()
            .map(|name| mutate("lists:create", json!({"name": name})).as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn queries(&self, lists: &[String]) -> Vec<(&'static str, Json)> {
        vec![
            ("lists:all", json!({})),
            ("items:ofList", json!({"list": lists[0]})),
            ("items:ofList", json!({"list": lists[0], "done": true})),
            ("items:ofList", json!({"list": lists[1], "done": false})),
            ("items:search", json!({"text": "SUT"})),
            ("items:search", json!({"text": "ekmek", "list": lists[1]})),
            ("items:openCount", json!({"list": lists[0]})),
        ]
    }

    fn create(&self, lists: &[String], label: &str, variant: usize) -> (&'static str, Json) {
        ("items:add", json!({"list": lists[variant % 2], "text": label}))
    }

    fn counted(&self, room: Lookup<'_>) -> Vec<(Json, String)> {
        let lists = room("lists:all", &json!({}));
        let ids: Vec<Json> = lists.as_array().into_iter().flatten().map(|l| l["_id"].clone()).collect();
        ids.iter()
            .flat_map(|id| room("items:ofList", &json!({"list": id})).as_array().cloned().unwrap_or_default())
            .filter_map(|item| item["text"].as_str().map(|t| (item["_id"].clone(), t.to_string())))
            .collect()
    }

    fn count_delta(&self, path: &str) -> i64 {
        match path {
            "items:add" => 1,
            "items:remove" => -1,
            _ => 0,
        }
    }

    fn other_kinds(&self) -> usize {
        4
    }

    fn other(
        &self,
        lists: &[String],
        kind: usize,
        pick: usize,
        variant: usize,
        room: Lookup<'_>,
    ) -> Option<(&'static str, Json)> {
        let items = || room("items:ofList", &json!({"list": lists[variant % 2]}));
        Some(match kind {
            0 => ("items:toggle", json!({"id": nth_id(&items(), pick)?})),
            1 => ("items:remove", json!({"id": nth_id(&items(), pick)?})),
            // A word the searches look for, so a write moves search results.
            2 => ("items:add", json!({"list": lists[variant % 2], "text": format!("{} {pick}", WORDS[variant % 3])})),
            // Few names, so unique violations (and their rollbacks) happen often.
            _ => ("lists:create", json!({"name": format!("L{}", pick % 4)})),
        })
    }
}
