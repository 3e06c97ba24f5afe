//! The reference NGO app under the property tests: tasks (counted), beneficiaries with a
//! unique TC number and Turkish search, donations with approvals and totals.

use super::{nth_id, Lookup, Workload};
use roomsync_shared::engine::App;
use serde_json::{json, Value as Json};
use std::sync::Arc;

const CITIES: [&str; 3] = ["Ankara", "İzmir", "Şişli"];
const B_STATUSES: [&str; 3] = ["AKTIF", "PASIF", "TASLAK"];
const T_STATUSES: [&str; 3] = ["pending", "in_progress", "completed"];

pub struct Ngo;

impl Workload for Ngo {
    fn app(&self) -> Arc<App> {
        roomsync_ngo_app::app()
    }

    fn setup(&self, mutate: &mut dyn FnMut(&str, Json) -> Json) -> Vec<String> {
        let user = mutate("users:ensure", json!({"name": "U", "email": "u@x", "role": "admin"}));
        vec![user.as_str().unwrap_or_default().to_string()]
    }

    fn queries(&self, context: &[String]) -> Vec<(&'static str, Json)> {
        let user = &context[0];
        vec![
            ("tasks:list", json!({})),
            ("tasks:list", json!({"status": "pending"})),
            ("tasks:list", json!({"status": "completed"})),
            ("tasks:list", json!({"assigned_to": user})),
            ("tasks:list", json!({"assigned_to": user, "status": "in_progress"})),
            ("beneficiaries:list", json!({})),
            ("beneficiaries:list", json!({"status": "AKTIF", "limit": 2})),
            ("beneficiaries:list", json!({"city": "Ankara", "skip": 1, "limit": 2})),
            ("beneficiaries:list", json!({"search": "sis"})),
            ("users:list", json!({})),
            ("donations:totals", json!({"status": "approved"})),
            ("donations:list", json!({"status": "pending", "limit": 3})),
        ]
    }

    fn create(&self, context: &[String], label: &str, variant: usize) -> (&'static str, Json) {
        let mut task = json!({"title": label, "created_by": context[0]});
        // Every status and the default one; assigned or not.
        if variant % 4 < 3 {
            task["status"] = json!(T_STATUSES[variant % 4]);
        }
        if variant.is_multiple_of(2) {
            task["assigned_to"] = json!(context[0]);
        }
        ("tasks:create", task)
    }

    fn counted(&self, room: Lookup<'_>) -> Vec<(Json, String)> {
        let tasks = room("tasks:list", &json!({}));
        let title = |t: &Json| t["title"].as_str().map(|s| (t["_id"].clone(), s.to_string()));
        tasks.as_array().into_iter().flatten().filter_map(title).collect()
    }

    fn count_delta(&self, path: &str) -> i64 {
        match path {
            "tasks:create" => 1,
            "tasks:remove" => -1,
            _ => 0,
        }
    }

    fn other_kinds(&self) -> usize {
        7
    }

    fn other(
        &self,
        context: &[String],
        kind: usize,
        pick: usize,
        variant: usize,
        room: Lookup<'_>,
    ) -> Option<(&'static str, Json)> {
        let tasks = || room("tasks:list", &json!({}));
        let beneficiaries = || room("beneficiaries:list", &json!({"limit": 500}));
        Some(match kind {
            0 => ("tasks:update", json!({"id": nth_id(&tasks(), pick)?, "status": T_STATUSES[variant % 3]})),
            1 => ("tasks:remove", json!({"id": nth_id(&tasks(), pick)?})),
            // Few TC numbers, so unique violations (and their rollbacks) happen often.
            2 => {
                let city = CITIES[variant % 3];
                let b = json!({
                    "name": format!("{city} {pick}"), "tc_no": format!("1000000000{}", pick % 6),
                    "phone": "1", "address": "a", "city": city, "district": "d", "neighborhood": "n",
                    "family_size": 3, "status": B_STATUSES[(variant / 3) % 3],
                });
                ("beneficiaries:create", b)
            }
            3 => ("beneficiaries:update", json!({"id": nth_id(&beneficiaries(), pick)?, "city": CITIES[variant % 3]})),
            4 => ("beneficiaries:remove", json!({"id": nth_id(&beneficiaries(), pick)?})),
            5 => {
                let currency = ["TRY", "USD", "EUR"][variant % 3];
                let d = json!({
                    "donor_name": "D", "donor_phone": "1", "amount": 10.0 + (pick % 6) as f64,
                    "currency": currency, "donation_type": "cash",
                    "payment_method": "NAKIT", "donation_purpose": "p", "receipt_number": format!("R-{}", pick % 6),
                });
                ("donations:create", d)
            }
            _ => {
                let donations = room("donations:list", &json!({"limit": 500}));
                ("donations:approve", json!({"id": nth_id(&donations, pick)?, "approved_by": context[0]}))
            }
        })
    }
}
