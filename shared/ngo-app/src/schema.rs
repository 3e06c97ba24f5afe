//! The reference NGO app's data model: the Kafkasder panel's 42 tables, 537 fields,
//! 125 indexes and 7 search indexes, written with the schema DSL, plus the uniqueness the
//! app relies on (`users.email`, `beneficiaries.tc_no`, `donations.receipt_number`).
//!
//! `tests/reference_schema.rs` checks this definition against the vendored
//! `shared/ngo-app/tests/fixtures/kafkasder-schema.json` table by table, field by field, index by index.

use super::roles::{ADMIN, MANAGER, ROLES};
use roomsync_shared::auth::Access;
use roomsync_shared::model::schema::{define_schema_with_rules, table, AccessRule, Schema, SchemaError, TableDef};
use roomsync_shared::model::validator::v;

/// The reference schema's definition, with its access rules.
pub fn define() -> Result<Schema, SchemaError> {
    define_schema_with_rules(ROLES, tables(), ACCESS_RULES)
}

const MANAGERS: Access = Access::AtLeast(MANAGER);
const ADMINS: Access = Access::AtLeast(ADMIN);

/// Who may read and write what, by role (`admin > manager > member > viewer`). Defaults:
/// every signed-in role reads, members and up write. On top of that:
/// - national ids (`tc_no`), IBANs and passport numbers are read by managers and admins
///   only; members may still enter them (data entry) but get documents without them;
/// - password hashes and two-factor secrets are never returned to any caller;
/// - security and system tables are admins' only; finance records need a manager.
///
/// A rule naming a table or field the schema does not declare fails [`define`].
const ACCESS_RULES: &[AccessRule] = &[
    ("users", |t| t.field_access("passwordHash", Access::Nobody).field_access("passport_number", MANAGERS)),
    ("beneficiaries", |t| t.field_access("tc_no", MANAGERS)),
    ("dependents", |t| t.field_access("tc_no", MANAGERS)),
    ("scholarship_applications", |t| t.field_access("applicant_tc_no", MANAGERS)),
    ("bank_accounts", |t| t.field_access("iban", MANAGERS)),
    ("two_factor_settings", |t| t.field_access("secret", Access::Nobody).read_access(ADMINS).write_access(ADMINS)),
    ("finance_records", |t| t.read_access(MANAGERS).write_access(MANAGERS)),
    ("security_events", admins_only),
    ("audit_logs", admins_only),
    ("user_sessions", admins_only),
    ("trusted_devices", admins_only),
    ("rate_limit_log", admins_only),
    ("system_settings", admins_only),
];

fn admins_only(table: TableDef) -> TableDef {
    table.read_access(ADMINS).write_access(ADMINS)
}

/// The tables, as the reference app declares them.
fn tables() -> Vec<TableDef> {
    vec![
        table(
            "users",
            [
                ("name", v::string()),
                ("email", v::string()),
                ("role", v::string()),
                ("permissions", v::optional(v::array(v::string()))),
                ("phone", v::optional(v::string())),
                ("avatar", v::optional(v::string())),
                ("isActive", v::boolean()),
                ("labels", v::optional(v::array(v::string()))),
                ("createdAt", v::optional(v::string())),
                ("lastLogin", v::optional(v::string())),
                ("passwordHash", v::optional(v::string())),
                ("two_factor_enabled", v::optional(v::boolean())),
                ("birth_date", v::optional(v::string())),
                ("blood_type", v::optional(v::string())),
                ("nationality", v::optional(v::string())),
                ("address", v::optional(v::string())),
                ("city", v::optional(v::string())),
                ("district", v::optional(v::string())),
                ("postal_code", v::optional(v::string())),
                ("passport_number", v::optional(v::string())),
                ("passport_issue_date", v::optional(v::string())),
                ("passport_expiry_date", v::optional(v::string())),
                ("passport_issuing_country", v::optional(v::string())),
                (
                    "emergency_contacts",
                    v::optional(v::array(v::object([
                        ("name", v::string()),
                        ("relationship", v::string()),
                        ("phone", v::string()),
                        ("email", v::optional(v::string())),
                        ("isPrimary", v::optional(v::boolean())),
                    ]))),
                ),
                ("communication_channels", v::optional(v::array(v::string()))),
                ("preferred_language", v::optional(v::string())),
                ("newsletter_subscription", v::optional(v::boolean())),
                ("sms_notifications", v::optional(v::boolean())),
                ("email_notifications", v::optional(v::boolean())),
                ("best_contact_time", v::optional(v::string())),
            ],
        )
        .index("by_email", ["email"])
        .index("by_role", ["role"])
        .index("by_is_active", ["isActive"])
        .search_index("by_search", "name", ["email", "phone"])
        .unique(["email"]),
        table(
            "beneficiaries",
            [
                ("name", v::string()),
                ("tc_no", v::string()),
                ("phone", v::string()),
                ("email", v::optional(v::string())),
                ("birth_date", v::optional(v::string())),
                ("gender", v::optional(v::string())),
                ("nationality", v::optional(v::string())),
                ("category", v::optional(v::enumeration(["need_based_family", "refugee_family", "orphan_family"]))),
                ("beneficiary_type", v::optional(v::enumeration(["primary_person", "dependent"]))),
                ("primary_beneficiary_id", v::optional(v::id("beneficiaries"))),
                ("relationship", v::optional(v::string())),
                ("application_count", v::optional(v::number())),
                ("aid_count", v::optional(v::number())),
                ("orphan_count", v::optional(v::number())),
                ("dependent_count", v::optional(v::number())),
                ("last_assignment", v::optional(v::string())),
                ("religion", v::optional(v::string())),
                ("marital_status", v::optional(v::string())),
                ("address", v::string()),
                ("city", v::string()),
                ("district", v::string()),
                ("neighborhood", v::string()),
                ("family_size", v::number()),
                ("children_count", v::optional(v::number())),
                ("orphan_children_count", v::optional(v::number())),
                ("elderly_count", v::optional(v::number())),
                ("disabled_count", v::optional(v::number())),
                ("income_level", v::optional(v::string())),
                ("income_source", v::optional(v::string())),
                ("has_debt", v::optional(v::boolean())),
                ("housing_type", v::optional(v::string())),
                ("has_vehicle", v::optional(v::boolean())),
                ("health_status", v::optional(v::string())),
                ("has_chronic_illness", v::optional(v::boolean())),
                ("chronic_illness_detail", v::optional(v::string())),
                ("has_disability", v::optional(v::boolean())),
                ("disability_detail", v::optional(v::string())),
                ("has_health_insurance", v::optional(v::boolean())),
                ("regular_medication", v::optional(v::string())),
                ("education_level", v::optional(v::string())),
                ("occupation", v::optional(v::string())),
                ("employment_status", v::optional(v::string())),
                ("aid_type", v::optional(v::string())),
                ("totalAidAmount", v::optional(v::number())),
                ("aid_duration", v::optional(v::string())),
                ("priority", v::optional(v::string())),
                ("reference_name", v::optional(v::string())),
                ("reference_phone", v::optional(v::string())),
                ("reference_relation", v::optional(v::string())),
                ("application_source", v::optional(v::string())),
                ("notes", v::optional(v::string())),
                ("previous_aid", v::optional(v::boolean())),
                ("other_organization_aid", v::optional(v::boolean())),
                ("emergency", v::optional(v::boolean())),
                ("contact_preference", v::optional(v::string())),
                ("status", v::enumeration(["TASLAK", "AKTIF", "PASIF", "SILINDI"])),
                ("approval_status", v::optional(v::enumeration(["pending", "approved", "rejected"]))),
                ("approved_by", v::optional(v::string())),
                ("approved_at", v::optional(v::string())),
            ],
        )
        .index("by_tc_no", ["tc_no"])
        .index("by_status", ["status"])
        .index("by_city", ["city"])
        .search_index("by_search", "name", ["tc_no", "phone", "email"])
        .unique(["tc_no"]),
        table(
            "donations",
            [
                ("donor_name", v::string()),
                ("donor_phone", v::string()),
                ("donor_email", v::optional(v::string())),
                ("amount", v::number()),
                ("currency", v::enumeration(["TRY", "USD", "EUR"])),
                ("donation_type", v::string()),
                (
                    "payment_method",
                    v::enumeration([
                        "cash",
                        "check",
                        "credit_card",
                        "online",
                        "bank_transfer",
                        "sms",
                        "in_kind",
                        "NAKIT",
                        "CEK_SENET",
                        "KREDI_KARTI",
                        "ONLINE",
                        "BANKA_HAVALESI",
                        "SMS",
                        "AYNI",
                    ]),
                ),
                ("payment_details", v::optional(v::record(v::string(), v::any()))),
                ("donation_purpose", v::string()),
                ("notes", v::optional(v::string())),
                ("receipt_number", v::string()),
                ("receipt_file_id", v::optional(v::string())),
                ("status", v::enumeration(["pending", "approved", "completed", "cancelled", "rejected"])),
                ("settlement_date", v::optional(v::string())),
                ("settlement_amount", v::optional(v::number())),
                ("transaction_reference", v::optional(v::string())),
                ("tax_deductible", v::optional(v::boolean())),
                ("is_kumbara", v::optional(v::boolean())),
                ("kumbara_location", v::optional(v::string())),
                ("collection_date", v::optional(v::string())),
                ("kumbara_institution", v::optional(v::string())),
                ("location_coordinates", v::optional(v::object([("lat", v::number()), ("lng", v::number())]))),
                ("location_address", v::optional(v::string())),
                ("route_points", v::optional(v::array(v::object([("lat", v::number()), ("lng", v::number())])))),
                ("route_distance", v::optional(v::number())),
                ("route_duration", v::optional(v::number())),
            ],
        )
        .index("by_status", ["status"])
        .index("by_donor_email", ["donor_email"])
        .index("by_receipt_number", ["receipt_number"])
        .index("by_is_kumbara", ["is_kumbara"])
        .index("by_kumbara_location", ["kumbara_location"])
        .unique(["receipt_number"]),
        table(
            "tasks",
            [
                ("title", v::string()),
                ("description", v::optional(v::string())),
                ("assigned_to", v::optional(v::id("users"))),
                ("created_by", v::id("users")),
                ("priority", v::enumeration(["low", "normal", "high", "urgent"])),
                ("status", v::enumeration(["pending", "in_progress", "completed", "cancelled"])),
                ("due_date", v::optional(v::string())),
                ("completed_at", v::optional(v::string())),
                ("category", v::optional(v::string())),
                ("tags", v::optional(v::array(v::string()))),
                ("is_read", v::boolean()),
            ],
        )
        .index("by_assigned_to", ["assigned_to"])
        .index("by_status", ["status"])
        .index("by_created_by", ["created_by"]),
        table(
            "meetings",
            [
                ("title", v::string()),
                ("description", v::optional(v::string())),
                ("meeting_date", v::string()),
                ("location", v::optional(v::string())),
                ("organizer", v::id("users")),
                ("participants", v::array(v::id("users"))),
                ("status", v::enumeration(["scheduled", "ongoing", "completed", "cancelled"])),
                ("meeting_type", v::enumeration(["general", "committee", "board", "other"])),
                ("agenda", v::optional(v::string())),
                ("notes", v::optional(v::string())),
            ],
        )
        .index("by_organizer", ["organizer"])
        .index("by_status", ["status"])
        .index("by_meeting_date", ["meeting_date"]),
        table(
            "meeting_decisions",
            [
                ("meeting_id", v::id("meetings")),
                ("title", v::string()),
                ("summary", v::optional(v::string())),
                ("owner", v::optional(v::id("users"))),
                ("created_by", v::id("users")),
                ("created_at", v::string()),
                ("status", v::enumeration(["acik", "devam", "kapatildi"])),
                ("tags", v::optional(v::array(v::string()))),
                ("due_date", v::optional(v::string())),
            ],
        )
        .index("by_meeting", ["meeting_id"])
        .index("by_owner", ["owner"])
        .index("by_status", ["status"]),
        table(
            "meeting_action_items",
            [
                ("meeting_id", v::id("meetings")),
                ("decision_id", v::optional(v::id("meeting_decisions"))),
                ("title", v::string()),
                ("description", v::optional(v::string())),
                ("assigned_to", v::id("users")),
                ("created_by", v::id("users")),
                ("created_at", v::string()),
                ("status", v::enumeration(["beklemede", "devam", "hazir", "iptal"])),
                ("due_date", v::optional(v::string())),
                ("completed_at", v::optional(v::string())),
                (
                    "status_history",
                    v::optional(v::array(v::object([
                        ("status", v::enumeration(["beklemede", "devam", "hazir", "iptal"])),
                        ("changed_at", v::string()),
                        ("changed_by", v::id("users")),
                        ("note", v::optional(v::string())),
                    ]))),
                ),
                ("notes", v::optional(v::array(v::string()))),
                ("reminder_scheduled_at", v::optional(v::string())),
            ],
        )
        .index("by_meeting", ["meeting_id"])
        .index("by_assigned_to", ["assigned_to"])
        .index("by_status", ["status"]),
        table(
            "workflow_notifications",
            [
                ("recipient", v::id("users")),
                ("triggered_by", v::optional(v::id("users"))),
                ("category", v::enumeration(["meeting", "gorev", "rapor", "hatirlatma"])),
                ("title", v::string()),
                ("body", v::optional(v::string())),
                ("status", v::enumeration(["beklemede", "gonderildi", "okundu"])),
                ("created_at", v::string()),
                ("sent_at", v::optional(v::string())),
                ("read_at", v::optional(v::string())),
                (
                    "reference",
                    v::optional(v::object([
                        ("type", v::enumeration(["meeting_action_item", "meeting", "meeting_decision"])),
                        ("id", v::string()),
                    ])),
                ),
                ("metadata", v::optional(v::record(v::string(), v::any()))),
            ],
        )
        .index("by_recipient", ["recipient"])
        .index("by_status", ["status"])
        .index("by_category", ["category"]),
        table(
            "messages",
            [
                ("message_type", v::enumeration(["sms", "email", "internal", "whatsapp"])),
                ("sender", v::id("users")),
                ("recipients", v::array(v::id("users"))),
                ("subject", v::optional(v::string())),
                ("content", v::string()),
                ("sent_at", v::optional(v::string())),
                ("status", v::enumeration(["draft", "sent", "failed"])),
                ("is_bulk", v::boolean()),
                ("template_id", v::optional(v::string())),
            ],
        )
        .index("by_sender", ["sender"])
        .index("by_status", ["status"])
        .search_index("by_search", "subject", ["content"]),
        table(
            "parameters",
            [
                ("category", v::string()),
                ("name_tr", v::string()),
                ("name_en", v::optional(v::string())),
                ("name_ar", v::optional(v::string())),
                ("name_ru", v::optional(v::string())),
                ("name_fr", v::optional(v::string())),
                ("value", v::string()),
                ("order", v::number()),
                ("is_active", v::boolean()),
            ],
        )
        .index("by_category", ["category"])
        .index("by_value", ["value"]),
        table(
            "aid_applications",
            [
                ("application_date", v::string()),
                ("applicant_type", v::enumeration(["person", "organization", "partner"])),
                ("applicant_name", v::string()),
                ("beneficiary_id", v::optional(v::id("beneficiaries"))),
                ("one_time_aid", v::optional(v::number())),
                ("regular_financial_aid", v::optional(v::number())),
                ("regular_food_aid", v::optional(v::number())),
                ("in_kind_aid", v::optional(v::number())),
                ("service_referral", v::optional(v::number())),
                ("stage", v::enumeration(["draft", "under_review", "approved", "ongoing", "completed"])),
                ("status", v::enumeration(["open", "closed"])),
                ("description", v::optional(v::string())),
                ("notes", v::optional(v::string())),
                ("priority", v::optional(v::enumeration(["low", "normal", "high", "urgent"]))),
                ("processed_by", v::optional(v::id("users"))),
                ("processed_at", v::optional(v::string())),
                ("approved_by", v::optional(v::id("users"))),
                ("approved_at", v::optional(v::string())),
                ("completed_at", v::optional(v::string())),
            ],
        )
        .index("by_beneficiary", ["beneficiary_id"])
        .index("by_stage", ["stage"])
        .index("by_status", ["status"]),
        table(
            "finance_records",
            [
                ("record_type", v::enumeration(["income", "expense"])),
                ("category", v::string()),
                ("amount", v::number()),
                ("currency", v::enumeration(["TRY", "USD", "EUR"])),
                ("description", v::string()),
                ("transaction_date", v::string()),
                ("payment_method", v::optional(v::string())),
                ("receipt_number", v::optional(v::string())),
                ("receipt_file_id", v::optional(v::string())),
                ("related_to", v::optional(v::string())),
                ("created_by", v::id("users")),
                ("approved_by", v::optional(v::id("users"))),
                ("status", v::enumeration(["pending", "approved", "rejected"])),
            ],
        )
        .index("by_record_type", ["record_type"])
        .index("by_status", ["status"])
        .index("by_created_by", ["created_by"]),
        table(
            "files",
            [
                ("fileName", v::string()),
                ("fileSize", v::number()),
                ("fileType", v::string()),
                ("bucket", v::string()),
                ("storageId", v::id("_storage")),
                ("uploadedBy", v::optional(v::id("users"))),
                ("uploadedAt", v::string()),
                ("version", v::optional(v::number())),
                ("description", v::optional(v::string())),
                ("category", v::optional(v::string())),
                ("tags", v::optional(v::array(v::string()))),
                ("accessLevel", v::optional(v::enumeration(["public", "private", "restricted"]))),
                ("sharedWith", v::optional(v::array(v::id("users")))),
                ("beneficiary_id", v::optional(v::id("beneficiaries"))),
                ("document_type", v::optional(v::string())),
            ],
        )
        .index("by_storage_id", ["storageId"])
        .index("by_bucket", ["bucket"])
        .index("by_uploaded_by", ["uploadedBy"])
        .index("by_beneficiary", ["beneficiary_id"]),
        table(
            "document_versions",
            [
                ("document_id", v::id("files")),
                ("version_number", v::number()),
                ("storage_id", v::id("_storage")),
                ("file_name", v::string()),
                ("file_size", v::number()),
                ("file_type", v::string()),
                ("version_notes", v::optional(v::string())),
                ("created_by", v::optional(v::id("users"))),
                ("created_at", v::string()),
            ],
        )
        .index("by_document", ["document_id"]),
        table(
            "report_configs",
            [
                ("name", v::string()),
                ("report_type", v::string()),
                ("filters", v::record(v::string(), v::any())),
                (
                    "schedule",
                    v::optional(v::object([
                        ("frequency", v::enumeration(["daily", "weekly", "monthly"])),
                        ("recipients", v::array(v::id("users"))),
                    ])),
                ),
                ("created_by", v::id("users")),
                ("created_at", v::string()),
                ("is_active", v::boolean()),
            ],
        )
        .index("by_created_by", ["created_by"])
        .index("by_active", ["is_active"]),
        table(
            "security_events",
            [
                ("event_type", v::string()),
                ("user_id", v::optional(v::id("users"))),
                ("ip_address", v::optional(v::string())),
                ("user_agent", v::optional(v::string())),
                ("details", v::optional(v::record(v::string(), v::any()))),
                ("severity", v::enumeration(["low", "medium", "high", "critical"])),
                ("occurred_at", v::string()),
                ("reviewed", v::boolean()),
            ],
        )
        .index("by_user", ["user_id"])
        .index("by_occurred_at", ["occurred_at"])
        .index("by_event_type", ["event_type"]),
        table(
            "user_sessions",
            [
                ("user_id", v::id("users")),
                ("device_info", v::optional(v::string())),
                ("ip_address", v::optional(v::string())),
                ("user_agent", v::optional(v::string())),
                ("is_active", v::boolean()),
                ("last_activity", v::string()),
                ("created_at", v::string()),
                ("revoked_at", v::optional(v::string())),
                ("revocation_reason", v::optional(v::string())),
            ],
        )
        .index("by_user", ["user_id"])
        .index("by_active", ["is_active"]),
        table("rate_limit_log", [("identifier", v::string()), ("action", v::string()), ("timestamp", v::string())])
            .index("by_identifier_action", ["identifier", "action", "timestamp"]),
        table(
            "two_factor_settings",
            [
                ("user_id", v::id("users")),
                ("secret", v::string()),
                (
                    "backup_codes",
                    v::array(v::object([
                        ("code", v::string()),
                        ("used", v::boolean()),
                        ("used_at", v::optional(v::string())),
                    ])),
                ),
                ("enabled", v::boolean()),
                ("enabled_at", v::string()),
                ("disabled_at", v::optional(v::string())),
                ("last_verified", v::optional(v::string())),
            ],
        )
        .index("by_user", ["user_id"]),
        table(
            "trusted_devices",
            [
                ("user_id", v::id("users")),
                ("device_fingerprint", v::string()),
                ("device_name", v::optional(v::string())),
                ("added_at", v::string()),
                ("last_used", v::optional(v::string())),
                ("is_active", v::boolean()),
                ("removed_at", v::optional(v::string())),
            ],
        )
        .index("by_user", ["user_id"])
        .index("by_fingerprint", ["device_fingerprint"]),
        table(
            "partners",
            [
                ("name", v::string()),
                ("type", v::enumeration(["organization", "individual", "sponsor"])),
                ("contact_person", v::optional(v::string())),
                ("email", v::optional(v::string())),
                ("phone", v::optional(v::string())),
                ("address", v::optional(v::string())),
                ("website", v::optional(v::string())),
                ("tax_number", v::optional(v::string())),
                ("partnership_type", v::enumeration(["donor", "supplier", "volunteer", "sponsor", "service_provider"])),
                ("collaboration_start_date", v::optional(v::string())),
                ("collaboration_end_date", v::optional(v::string())),
                ("notes", v::optional(v::string())),
                ("status", v::enumeration(["active", "inactive", "pending"])),
                ("total_contribution", v::optional(v::number())),
                ("contribution_count", v::optional(v::number())),
                ("logo_url", v::optional(v::string())),
            ],
        )
        .index("by_type", ["type"])
        .index("by_status", ["status"])
        .index("by_partnership_type", ["partnership_type"])
        .index("by_name", ["name"])
        .search_index("by_search", "name", ["contact_person", "email"]),
        table(
            "consents",
            [
                ("beneficiary_id", v::id("beneficiaries")),
                ("consent_type", v::string()),
                ("consent_text", v::string()),
                ("status", v::enumeration(["active", "revoked", "expired"])),
                ("signed_at", v::string()),
                ("signed_by", v::optional(v::string())),
                ("expires_at", v::optional(v::string())),
                ("created_by", v::optional(v::id("users"))),
                ("notes", v::optional(v::string())),
            ],
        )
        .index("by_beneficiary", ["beneficiary_id"])
        .index("by_status", ["status"]),
        table(
            "bank_accounts",
            [
                ("beneficiary_id", v::id("beneficiaries")),
                ("bank_name", v::string()),
                ("account_holder", v::string()),
                ("account_number", v::string()),
                ("iban", v::optional(v::string())),
                ("branch_name", v::optional(v::string())),
                ("branch_code", v::optional(v::string())),
                ("account_type", v::enumeration(["checking", "savings", "other"])),
                ("currency", v::enumeration(["TRY", "USD", "EUR"])),
                ("is_primary", v::optional(v::boolean())),
                ("status", v::enumeration(["active", "inactive", "closed"])),
                ("notes", v::optional(v::string())),
            ],
        )
        .index("by_beneficiary", ["beneficiary_id"])
        .index("by_status", ["status"]),
        table(
            "dependents",
            [
                ("beneficiary_id", v::id("beneficiaries")),
                ("name", v::string()),
                ("relationship", v::string()),
                ("birth_date", v::optional(v::string())),
                ("gender", v::optional(v::string())),
                ("tc_no", v::optional(v::string())),
                ("phone", v::optional(v::string())),
                ("education_level", v::optional(v::string())),
                ("occupation", v::optional(v::string())),
                ("health_status", v::optional(v::string())),
                ("has_disability", v::optional(v::boolean())),
                ("disability_detail", v::optional(v::string())),
                ("monthly_income", v::optional(v::number())),
                ("notes", v::optional(v::string())),
            ],
        )
        .index("by_beneficiary", ["beneficiary_id"])
        .index("by_relationship", ["relationship"]),
        table(
            "scholarships",
            [
                ("title", v::string()),
                ("description", v::optional(v::string())),
                ("amount", v::number()),
                ("currency", v::enumeration(["TRY", "USD", "EUR"])),
                ("duration_months", v::optional(v::number())),
                ("category", v::string()),
                ("eligibility_criteria", v::optional(v::string())),
                ("requirements", v::optional(v::array(v::string()))),
                ("application_start_date", v::string()),
                ("application_end_date", v::string()),
                ("academic_year", v::optional(v::string())),
                ("max_recipients", v::optional(v::number())),
                ("is_active", v::boolean()),
                ("created_by", v::id("users")),
                ("created_at", v::string()),
            ],
        )
        .index("by_category", ["category"])
        .index("by_is_active", ["is_active"])
        .index("by_application_dates", ["application_start_date", "application_end_date"]),
        table(
            "scholarship_applications",
            [
                ("scholarship_id", v::id("scholarships")),
                ("student_id", v::optional(v::id("beneficiaries"))),
                ("created_by", v::optional(v::id("users"))),
                ("applicant_name", v::string()),
                ("applicant_tc_no", v::string()),
                ("applicant_phone", v::string()),
                ("applicant_email", v::optional(v::string())),
                ("university", v::optional(v::string())),
                ("department", v::optional(v::string())),
                ("grade_level", v::optional(v::string())),
                ("gpa", v::optional(v::number())),
                ("academic_year", v::optional(v::string())),
                ("monthly_income", v::optional(v::number())),
                ("family_income", v::optional(v::number())),
                ("father_occupation", v::optional(v::string())),
                ("mother_occupation", v::optional(v::string())),
                ("sibling_count", v::optional(v::number())),
                ("is_orphan", v::optional(v::boolean())),
                ("has_disability", v::optional(v::boolean())),
                ("essay", v::optional(v::string())),
                (
                    "status",
                    v::enumeration(["draft", "submitted", "under_review", "approved", "rejected", "waitlisted"]),
                ),
                ("priority_score", v::optional(v::number())),
                ("reviewer_notes", v::optional(v::string())),
                ("submitted_at", v::optional(v::string())),
                ("reviewed_by", v::optional(v::id("users"))),
                ("reviewed_at", v::optional(v::string())),
                ("documents", v::optional(v::array(v::string()))),
                ("created_at", v::string()),
            ],
        )
        .index("by_scholarship", ["scholarship_id"])
        .index("by_status", ["status"])
        .index("by_tc_no", ["applicant_tc_no"])
        .index("by_submitted_at", ["submitted_at"]),
        table(
            "scholarship_payments",
            [
                ("application_id", v::id("scholarship_applications")),
                ("payment_date", v::string()),
                ("amount", v::number()),
                ("currency", v::enumeration(["TRY", "USD", "EUR"])),
                ("payment_method", v::string()),
                ("payment_reference", v::optional(v::string())),
                ("bank_account", v::optional(v::string())),
                ("notes", v::optional(v::string())),
                ("status", v::enumeration(["pending", "paid", "failed", "cancelled"])),
                ("processed_by", v::optional(v::id("users"))),
                ("receipt_file_id", v::optional(v::string())),
                ("created_at", v::string()),
            ],
        )
        .index("by_application", ["application_id"])
        .index("by_payment_date", ["payment_date"])
        .index("by_status", ["status"]),
        table(
            "communication_logs",
            [
                ("type", v::enumeration(["email", "sms", "whatsapp"])),
                ("to", v::string()),
                ("subject", v::optional(v::string())),
                ("message", v::string()),
                ("status", v::enumeration(["sent", "failed", "pending"])),
                ("messageId", v::optional(v::string())),
                ("error", v::optional(v::string())),
                ("sentAt", v::string()),
                ("userId", v::optional(v::id("users"))),
                ("metadata", v::optional(v::record(v::string(), v::any()))),
            ],
        )
        .index("by_type", ["type"])
        .index("by_status", ["status"])
        .index("by_sent_at", ["sentAt"])
        .index("by_user", ["userId"]),
        table(
            "analytics_events",
            [
                ("event", v::string()),
                ("userId", v::optional(v::id("users"))),
                ("sessionId", v::optional(v::string())),
                ("properties", v::any()),
                ("timestamp", v::string()),
                ("userAgent", v::optional(v::string())),
            ],
        )
        .index("by_event", ["event"])
        .index("by_user", ["userId"])
        .index("by_timestamp", ["timestamp"]),
        table(
            "audit_logs",
            [
                ("userId", v::id("users")),
                ("userName", v::string()),
                ("action", v::enumeration(["CREATE", "UPDATE", "DELETE", "VIEW"])),
                ("resource", v::string()),
                ("resourceId", v::string()),
                ("changes", v::optional(v::record(v::string(), v::any()))),
                ("ipAddress", v::optional(v::string())),
                ("userAgent", v::optional(v::string())),
                ("timestamp", v::string()),
                ("metadata", v::optional(v::record(v::string(), v::any()))),
            ],
        )
        .index("by_user", ["userId"])
        .index("by_resource", ["resource", "resourceId"])
        .index("by_action", ["action"])
        .index("by_timestamp", ["timestamp"]),
        table(
            "errors",
            [
                ("error_code", v::string()),
                ("title", v::string()),
                ("description", v::string()),
                (
                    "category",
                    v::enumeration([
                        "runtime",
                        "ui_ux",
                        "design_bug",
                        "system",
                        "data",
                        "security",
                        "performance",
                        "integration",
                    ]),
                ),
                ("severity", v::enumeration(["critical", "high", "medium", "low"])),
                ("status", v::enumeration(["new", "assigned", "in_progress", "resolved", "closed", "reopened"])),
                ("stack_trace", v::optional(v::string())),
                ("error_context", v::optional(v::record(v::string(), v::any()))),
                ("user_id", v::optional(v::id("users"))),
                ("session_id", v::optional(v::string())),
                ("device_info", v::optional(v::record(v::string(), v::any()))),
                ("url", v::optional(v::string())),
                ("component", v::optional(v::string())),
                ("function_name", v::optional(v::string())),
                ("occurrence_count", v::number()),
                ("first_seen", v::string()),
                ("last_seen", v::string()),
                ("assigned_to", v::optional(v::id("users"))),
                ("reporter_id", v::optional(v::id("users"))),
                ("tags", v::optional(v::array(v::string()))),
                ("metadata", v::optional(v::record(v::string(), v::any()))),
                ("resolution_notes", v::optional(v::string())),
                ("resolved_at", v::optional(v::string())),
                ("resolved_by", v::optional(v::id("users"))),
                ("fingerprint", v::optional(v::string())),
                ("sentry_event_id", v::optional(v::string())),
                ("task_id", v::optional(v::id("tasks"))),
            ],
        )
        .index("by_status", ["status"])
        .index("by_severity", ["severity"])
        .index("by_category", ["category"])
        .index("by_assigned_to", ["assigned_to"])
        .index("by_fingerprint", ["fingerprint"])
        .index("by_first_seen", ["first_seen"])
        .index("by_last_seen", ["last_seen"])
        .index("by_status_severity", ["status", "severity"])
        .search_index("by_search", "title", ["error_code", "component"]),
        table(
            "error_occurrences",
            [
                ("error_id", v::id("errors")),
                ("timestamp", v::string()),
                ("user_id", v::optional(v::id("users"))),
                ("session_id", v::optional(v::string())),
                ("url", v::optional(v::string())),
                ("user_action", v::optional(v::string())),
                ("request_id", v::optional(v::string())),
                ("ip_address", v::optional(v::string())),
                ("user_agent", v::optional(v::string())),
                ("context_snapshot", v::optional(v::record(v::string(), v::any()))),
                ("sentry_event_id", v::optional(v::string())),
                ("stack_trace", v::optional(v::string())),
            ],
        )
        .index("by_error", ["error_id"])
        .index("by_timestamp", ["timestamp"])
        .index("by_user", ["user_id"]),
        table(
            "performance_metrics",
            [
                ("metric_type", v::enumeration(["page_load", "api_call", "database_query", "render_time"])),
                ("metric_name", v::string()),
                ("value", v::number()),
                ("unit", v::string()),
                ("metadata", v::optional(v::record(v::string(), v::any()))),
                ("recorded_at", v::string()),
            ],
        )
        .index("by_metric_type", ["metric_type"])
        .index("by_metric_name", ["metric_name"])
        .index("by_recorded_at", ["recorded_at"]),
        table(
            "error_logs",
            [
                ("error_type", v::string()),
                ("error_message", v::string()),
                ("stack_trace", v::optional(v::string())),
                ("user_id", v::optional(v::id("users"))),
                ("context", v::optional(v::record(v::string(), v::any()))),
                ("occurred_at", v::string()),
                ("resolved", v::boolean()),
                ("resolved_by", v::optional(v::id("users"))),
                ("resolved_at", v::optional(v::string())),
                ("resolution", v::optional(v::string())),
            ],
        )
        .index("by_resolved", ["resolved"])
        .index("by_error_type", ["error_type"])
        .index("by_occurred_at", ["occurred_at"]),
        table(
            "system_alerts",
            [
                ("alert_type", v::enumeration(["error", "performance", "security", "system"])),
                ("severity", v::enumeration(["low", "medium", "high", "critical"])),
                ("title", v::string()),
                ("description", v::string()),
                ("metadata", v::optional(v::record(v::string(), v::any()))),
                ("created_at", v::string()),
                ("acknowledged", v::boolean()),
                ("acknowledged_by", v::optional(v::id("users"))),
                ("acknowledged_at", v::optional(v::string())),
                ("resolved", v::boolean()),
            ],
        )
        .index("by_resolved", ["resolved"])
        .index("by_severity", ["severity"])
        .index("by_alert_type", ["alert_type"])
        .index("by_created_at", ["created_at"]),
        table(
            "ai_chats",
            [
                ("user_id", v::id("users")),
                ("title", v::string()),
                ("prompt", v::string()),
                ("stream_id", v::string()),
                ("status", v::enumeration(["pending", "completed", "error"])),
                ("created_at", v::number()),
                ("updated_at", v::number()),
            ],
        )
        .index("by_user_id", ["user_id"])
        .index("by_status", ["status"])
        .index("by_created_at", ["created_at"]),
        table(
            "agent_threads",
            [
                ("user_id", v::id("users")),
                ("title", v::string()),
                ("agent_name", v::string()),
                ("metadata", v::optional(v::record(v::string(), v::any()))),
                ("status", v::enumeration(["active", "archived"])),
                ("created_at", v::number()),
                ("last_message_at", v::number()),
            ],
        )
        .index("by_user_id", ["user_id"])
        .index("by_agent_name", ["agent_name"])
        .index("by_status", ["status"])
        .search_index("search_title", "title", Vec::<&str>::new()),
        table(
            "agent_messages",
            [
                ("thread_id", v::id("agent_threads")),
                ("role", v::enumeration(["user", "assistant", "system", "tool"])),
                ("content", v::string()),
                ("agent_name", v::optional(v::string())),
                ("tool_calls", v::optional(v::record(v::string(), v::any()))),
                ("metadata", v::optional(v::record(v::string(), v::any()))),
                ("created_at", v::number()),
            ],
        )
        .index("by_thread_id", ["thread_id"])
        .index("by_role", ["role"])
        .search_index("search_content", "content", ["thread_id", "role"]),
        table(
            "agent_tools",
            [
                ("name", v::string()),
                ("description", v::string()),
                ("parameters", v::any()),
                ("function_name", v::string()),
                ("enabled", v::boolean()),
                ("created_at", v::number()),
            ],
        )
        .index("by_name", ["name"])
        .index("by_enabled", ["enabled"]),
        table(
            "agent_usage",
            [
                ("user_id", v::id("users")),
                ("thread_id", v::optional(v::id("agent_threads"))),
                ("agent_name", v::string()),
                ("model", v::string()),
                ("input_tokens", v::number()),
                ("output_tokens", v::number()),
                ("cost_cents", v::optional(v::number())),
                ("created_at", v::number()),
            ],
        )
        .index("by_user_id", ["user_id"])
        .index("by_thread_id", ["thread_id"])
        .index("by_agent_name", ["agent_name"])
        .index("by_created_at", ["created_at"]),
        table(
            "system_settings",
            [
                ("category", v::string()),
                ("key", v::string()),
                ("value", v::any()),
                ("label", v::optional(v::string())),
                ("description", v::optional(v::string())),
                ("is_public", v::optional(v::boolean())),
                ("is_encrypted", v::optional(v::boolean())),
                ("data_type", v::optional(v::string())),
                ("default_value", v::optional(v::any())),
                ("updated_by", v::optional(v::id("users"))),
                ("updated_at", v::optional(v::number())),
                ("version", v::optional(v::number())),
            ],
        )
        .index("by_category", ["category"])
        .index("by_key", ["key"])
        .index("by_category_and_key", ["category", "key"]),
        table(
            "theme_presets",
            [
                ("name", v::string()),
                ("description", v::optional(v::string())),
                (
                    "colors",
                    v::object([
                        ("primary", v::string()),
                        ("primary_hover", v::optional(v::string())),
                        ("primary_active", v::optional(v::string())),
                        ("secondary", v::optional(v::string())),
                        ("secondary_hover", v::optional(v::string())),
                        ("accent", v::optional(v::string())),
                        ("success", v::optional(v::string())),
                        ("warning", v::optional(v::string())),
                        ("error", v::optional(v::string())),
                        ("info", v::optional(v::string())),
                        ("background", v::optional(v::string())),
                        ("background_secondary", v::optional(v::string())),
                        ("background_tertiary", v::optional(v::string())),
                        ("text_primary", v::optional(v::string())),
                        ("text_secondary", v::optional(v::string())),
                        ("text_muted", v::optional(v::string())),
                        ("border", v::optional(v::string())),
                        ("border_hover", v::optional(v::string())),
                        ("sidebar_bg", v::optional(v::string())),
                        ("sidebar_text", v::optional(v::string())),
                        ("sidebar_active", v::optional(v::string())),
                    ]),
                ),
                (
                    "typography",
                    v::optional(v::object([
                        ("font_family", v::optional(v::string())),
                        ("base_size", v::optional(v::number())),
                        ("heading_scale", v::optional(v::number())),
                        ("line_height", v::optional(v::number())),
                        ("font_weight_regular", v::optional(v::number())),
                        ("font_weight_medium", v::optional(v::number())),
                        ("font_weight_bold", v::optional(v::number())),
                    ])),
                ),
                (
                    "layout",
                    v::optional(v::object([
                        ("sidebar_width", v::optional(v::number())),
                        ("container_max_width", v::optional(v::number())),
                        ("border_radius", v::optional(v::number())),
                        ("spacing_scale", v::optional(v::string())),
                        ("card_elevation", v::optional(v::string())),
                    ])),
                ),
                ("is_default", v::optional(v::boolean())),
                ("is_custom", v::optional(v::boolean())),
                ("created_by", v::optional(v::id("users"))),
                ("created_at", v::optional(v::number())),
            ],
        )
        .index("by_name", ["name"])
        .index("by_is_default", ["is_default"])
        .index("by_is_custom", ["is_custom"])
        .index("by_created_by", ["created_by"]),
    ]
}
