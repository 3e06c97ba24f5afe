// Generated from the Rust schema by `cargo run -p roomsync-ngo-app --bin codegen`. Do not edit.
// A test fails when this file is stale.

/** Hash of the schema these types were generated from (sent in the handshake). */
export const schemaHash = "c375ce86f6c8c61d";

/** An id of a document in table `T`: a 30-character URL-safe string at runtime. */
export type Id<T extends string> = string & { readonly __tableName: T };

/** The fields of every table, as written (without system fields). */
export interface Tables {
  users: {
    name: string;
    email: string;
    role: string;
    permissions?: string[];
    phone?: string;
    avatar?: string;
    isActive: boolean;
    labels?: string[];
    createdAt?: string;
    lastLogin?: string;
    passwordHash?: string;
    two_factor_enabled?: boolean;
    birth_date?: string;
    blood_type?: string;
    nationality?: string;
    address?: string;
    city?: string;
    district?: string;
    postal_code?: string;
    passport_number?: string;
    passport_issue_date?: string;
    passport_expiry_date?: string;
    passport_issuing_country?: string;
    emergency_contacts?: {
      email?: string;
      isPrimary?: boolean;
      name: string;
      phone: string;
      relationship: string;
    }[];
    communication_channels?: string[];
    preferred_language?: string;
    newsletter_subscription?: boolean;
    sms_notifications?: boolean;
    email_notifications?: boolean;
    best_contact_time?: string;
  };
  beneficiaries: {
    name: string;
    tc_no: string;
    phone: string;
    email?: string;
    birth_date?: string;
    gender?: string;
    nationality?: string;
    category?: "need_based_family" | "refugee_family" | "orphan_family";
    beneficiary_type?: "primary_person" | "dependent";
    primary_beneficiary_id?: Id<"beneficiaries">;
    relationship?: string;
    application_count?: number;
    aid_count?: number;
    orphan_count?: number;
    dependent_count?: number;
    last_assignment?: string;
    religion?: string;
    marital_status?: string;
    address: string;
    city: string;
    district: string;
    neighborhood: string;
    family_size: number;
    children_count?: number;
    orphan_children_count?: number;
    elderly_count?: number;
    disabled_count?: number;
    income_level?: string;
    income_source?: string;
    has_debt?: boolean;
    housing_type?: string;
    has_vehicle?: boolean;
    health_status?: string;
    has_chronic_illness?: boolean;
    chronic_illness_detail?: string;
    has_disability?: boolean;
    disability_detail?: string;
    has_health_insurance?: boolean;
    regular_medication?: string;
    education_level?: string;
    occupation?: string;
    employment_status?: string;
    aid_type?: string;
    totalAidAmount?: number;
    aid_duration?: string;
    priority?: string;
    reference_name?: string;
    reference_phone?: string;
    reference_relation?: string;
    application_source?: string;
    notes?: string;
    previous_aid?: boolean;
    other_organization_aid?: boolean;
    emergency?: boolean;
    contact_preference?: string;
    status: "TASLAK" | "AKTIF" | "PASIF" | "SILINDI";
    approval_status?: "pending" | "approved" | "rejected";
    approved_by?: string;
    approved_at?: string;
  };
  donations: {
    donor_name: string;
    donor_phone: string;
    donor_email?: string;
    amount: number;
    currency: "TRY" | "USD" | "EUR";
    donation_type: string;
    payment_method: "cash" | "check" | "credit_card" | "online" | "bank_transfer" | "sms" | "in_kind" | "NAKIT" | "CEK_SENET" | "KREDI_KARTI" | "ONLINE" | "BANKA_HAVALESI" | "SMS" | "AYNI";
    payment_details?: Record<string, any>;
    donation_purpose: string;
    notes?: string;
    receipt_number: string;
    receipt_file_id?: string;
    status: "pending" | "approved" | "completed" | "cancelled" | "rejected";
    settlement_date?: string;
    settlement_amount?: number;
    transaction_reference?: string;
    tax_deductible?: boolean;
    is_kumbara?: boolean;
    kumbara_location?: string;
    collection_date?: string;
    kumbara_institution?: string;
    location_coordinates?: {
      lat: number;
      lng: number;
    };
    location_address?: string;
    route_points?: {
      lat: number;
      lng: number;
    }[];
    route_distance?: number;
    route_duration?: number;
  };
  tasks: {
    title: string;
    description?: string;
    assigned_to?: Id<"users">;
    created_by: Id<"users">;
    priority: "low" | "normal" | "high" | "urgent";
    status: "pending" | "in_progress" | "completed" | "cancelled";
    due_date?: string;
    completed_at?: string;
    category?: string;
    tags?: string[];
    is_read: boolean;
  };
  meetings: {
    title: string;
    description?: string;
    meeting_date: string;
    location?: string;
    organizer: Id<"users">;
    participants: Id<"users">[];
    status: "scheduled" | "ongoing" | "completed" | "cancelled";
    meeting_type: "general" | "committee" | "board" | "other";
    agenda?: string;
    notes?: string;
  };
  meeting_decisions: {
    meeting_id: Id<"meetings">;
    title: string;
    summary?: string;
    owner?: Id<"users">;
    created_by: Id<"users">;
    created_at: string;
    status: "acik" | "devam" | "kapatildi";
    tags?: string[];
    due_date?: string;
  };
  meeting_action_items: {
    meeting_id: Id<"meetings">;
    decision_id?: Id<"meeting_decisions">;
    title: string;
    description?: string;
    assigned_to: Id<"users">;
    created_by: Id<"users">;
    created_at: string;
    status: "beklemede" | "devam" | "hazir" | "iptal";
    due_date?: string;
    completed_at?: string;
    status_history?: {
      changed_at: string;
      changed_by: Id<"users">;
      note?: string;
      status: "beklemede" | "devam" | "hazir" | "iptal";
    }[];
    notes?: string[];
    reminder_scheduled_at?: string;
  };
  workflow_notifications: {
    recipient: Id<"users">;
    triggered_by?: Id<"users">;
    category: "meeting" | "gorev" | "rapor" | "hatirlatma";
    title: string;
    body?: string;
    status: "beklemede" | "gonderildi" | "okundu";
    created_at: string;
    sent_at?: string;
    read_at?: string;
    reference?: {
      id: string;
      type: "meeting_action_item" | "meeting" | "meeting_decision";
    };
    metadata?: Record<string, any>;
  };
  messages: {
    message_type: "sms" | "email" | "internal" | "whatsapp";
    sender: Id<"users">;
    recipients: Id<"users">[];
    subject?: string;
    content: string;
    sent_at?: string;
    status: "draft" | "sent" | "failed";
    is_bulk: boolean;
    template_id?: string;
  };
  parameters: {
    category: string;
    name_tr: string;
    name_en?: string;
    name_ar?: string;
    name_ru?: string;
    name_fr?: string;
    value: string;
    order: number;
    is_active: boolean;
  };
  aid_applications: {
    application_date: string;
    applicant_type: "person" | "organization" | "partner";
    applicant_name: string;
    beneficiary_id?: Id<"beneficiaries">;
    one_time_aid?: number;
    regular_financial_aid?: number;
    regular_food_aid?: number;
    in_kind_aid?: number;
    service_referral?: number;
    stage: "draft" | "under_review" | "approved" | "ongoing" | "completed";
    status: "open" | "closed";
    description?: string;
    notes?: string;
    priority?: "low" | "normal" | "high" | "urgent";
    processed_by?: Id<"users">;
    processed_at?: string;
    approved_by?: Id<"users">;
    approved_at?: string;
    completed_at?: string;
  };
  finance_records: {
    record_type: "income" | "expense";
    category: string;
    amount: number;
    currency: "TRY" | "USD" | "EUR";
    description: string;
    transaction_date: string;
    payment_method?: string;
    receipt_number?: string;
    receipt_file_id?: string;
    related_to?: string;
    created_by: Id<"users">;
    approved_by?: Id<"users">;
    status: "pending" | "approved" | "rejected";
  };
  files: {
    fileName: string;
    fileSize: number;
    fileType: string;
    bucket: string;
    storageId: Id<"_storage">;
    uploadedBy?: Id<"users">;
    uploadedAt: string;
    version?: number;
    description?: string;
    category?: string;
    tags?: string[];
    accessLevel?: "public" | "private" | "restricted";
    sharedWith?: Id<"users">[];
    beneficiary_id?: Id<"beneficiaries">;
    document_type?: string;
  };
  document_versions: {
    document_id: Id<"files">;
    version_number: number;
    storage_id: Id<"_storage">;
    file_name: string;
    file_size: number;
    file_type: string;
    version_notes?: string;
    created_by?: Id<"users">;
    created_at: string;
  };
  report_configs: {
    name: string;
    report_type: string;
    filters: Record<string, any>;
    schedule?: {
      frequency: "daily" | "weekly" | "monthly";
      recipients: Id<"users">[];
    };
    created_by: Id<"users">;
    created_at: string;
    is_active: boolean;
  };
  security_events: {
    event_type: string;
    user_id?: Id<"users">;
    ip_address?: string;
    user_agent?: string;
    details?: Record<string, any>;
    severity: "low" | "medium" | "high" | "critical";
    occurred_at: string;
    reviewed: boolean;
  };
  user_sessions: {
    user_id: Id<"users">;
    device_info?: string;
    ip_address?: string;
    user_agent?: string;
    is_active: boolean;
    last_activity: string;
    created_at: string;
    revoked_at?: string;
    revocation_reason?: string;
  };
  rate_limit_log: {
    identifier: string;
    action: string;
    timestamp: string;
  };
  two_factor_settings: {
    user_id: Id<"users">;
    secret: string;
    backup_codes: {
      code: string;
      used: boolean;
      used_at?: string;
    }[];
    enabled: boolean;
    enabled_at: string;
    disabled_at?: string;
    last_verified?: string;
  };
  trusted_devices: {
    user_id: Id<"users">;
    device_fingerprint: string;
    device_name?: string;
    added_at: string;
    last_used?: string;
    is_active: boolean;
    removed_at?: string;
  };
  partners: {
    name: string;
    type: "organization" | "individual" | "sponsor";
    contact_person?: string;
    email?: string;
    phone?: string;
    address?: string;
    website?: string;
    tax_number?: string;
    partnership_type: "donor" | "supplier" | "volunteer" | "sponsor" | "service_provider";
    collaboration_start_date?: string;
    collaboration_end_date?: string;
    notes?: string;
    status: "active" | "inactive" | "pending";
    total_contribution?: number;
    contribution_count?: number;
    logo_url?: string;
  };
  consents: {
    beneficiary_id: Id<"beneficiaries">;
    consent_type: string;
    consent_text: string;
    status: "active" | "revoked" | "expired";
    signed_at: string;
    signed_by?: string;
    expires_at?: string;
    created_by?: Id<"users">;
    notes?: string;
  };
  bank_accounts: {
    beneficiary_id: Id<"beneficiaries">;
    bank_name: string;
    account_holder: string;
    account_number: string;
    iban?: string;
    branch_name?: string;
    branch_code?: string;
    account_type: "checking" | "savings" | "other";
    currency: "TRY" | "USD" | "EUR";
    is_primary?: boolean;
    status: "active" | "inactive" | "closed";
    notes?: string;
  };
  dependents: {
    beneficiary_id: Id<"beneficiaries">;
    name: string;
    relationship: string;
    birth_date?: string;
    gender?: string;
    tc_no?: string;
    phone?: string;
    education_level?: string;
    occupation?: string;
    health_status?: string;
    has_disability?: boolean;
    disability_detail?: string;
    monthly_income?: number;
    notes?: string;
  };
  scholarships: {
    title: string;
    description?: string;
    amount: number;
    currency: "TRY" | "USD" | "EUR";
    duration_months?: number;
    category: string;
    eligibility_criteria?: string;
    requirements?: string[];
    application_start_date: string;
    application_end_date: string;
    academic_year?: string;
    max_recipients?: number;
    is_active: boolean;
    created_by: Id<"users">;
    created_at: string;
  };
  scholarship_applications: {
    scholarship_id: Id<"scholarships">;
    student_id?: Id<"beneficiaries">;
    created_by?: Id<"users">;
    applicant_name: string;
    applicant_tc_no: string;
    applicant_phone: string;
    applicant_email?: string;
    university?: string;
    department?: string;
    grade_level?: string;
    gpa?: number;
    academic_year?: string;
    monthly_income?: number;
    family_income?: number;
    father_occupation?: string;
    mother_occupation?: string;
    sibling_count?: number;
    is_orphan?: boolean;
    has_disability?: boolean;
    essay?: string;
    status: "draft" | "submitted" | "under_review" | "approved" | "rejected" | "waitlisted";
    priority_score?: number;
    reviewer_notes?: string;
    submitted_at?: string;
    reviewed_by?: Id<"users">;
    reviewed_at?: string;
    documents?: string[];
    created_at: string;
  };
  scholarship_payments: {
    application_id: Id<"scholarship_applications">;
    payment_date: string;
    amount: number;
    currency: "TRY" | "USD" | "EUR";
    payment_method: string;
    payment_reference?: string;
    bank_account?: string;
    notes?: string;
    status: "pending" | "paid" | "failed" | "cancelled";
    processed_by?: Id<"users">;
    receipt_file_id?: string;
    created_at: string;
  };
  communication_logs: {
    type: "email" | "sms" | "whatsapp";
    to: string;
    subject?: string;
    message: string;
    status: "sent" | "failed" | "pending";
    messageId?: string;
    error?: string;
    sentAt: string;
    userId?: Id<"users">;
    metadata?: Record<string, any>;
  };
  analytics_events: {
    event: string;
    userId?: Id<"users">;
    sessionId?: string;
    properties: any;
    timestamp: string;
    userAgent?: string;
  };
  audit_logs: {
    userId: Id<"users">;
    userName: string;
    action: "CREATE" | "UPDATE" | "DELETE" | "VIEW";
    resource: string;
    resourceId: string;
    changes?: Record<string, any>;
    ipAddress?: string;
    userAgent?: string;
    timestamp: string;
    metadata?: Record<string, any>;
  };
  errors: {
    error_code: string;
    title: string;
    description: string;
    category: "runtime" | "ui_ux" | "design_bug" | "system" | "data" | "security" | "performance" | "integration";
    severity: "critical" | "high" | "medium" | "low";
    status: "new" | "assigned" | "in_progress" | "resolved" | "closed" | "reopened";
    stack_trace?: string;
    error_context?: Record<string, any>;
    user_id?: Id<"users">;
    session_id?: string;
    device_info?: Record<string, any>;
    url?: string;
    component?: string;
    function_name?: string;
    occurrence_count: number;
    first_seen: string;
    last_seen: string;
    assigned_to?: Id<"users">;
    reporter_id?: Id<"users">;
    tags?: string[];
    metadata?: Record<string, any>;
    resolution_notes?: string;
    resolved_at?: string;
    resolved_by?: Id<"users">;
    fingerprint?: string;
    sentry_event_id?: string;
    task_id?: Id<"tasks">;
  };
  error_occurrences: {
    error_id: Id<"errors">;
    timestamp: string;
    user_id?: Id<"users">;
    session_id?: string;
    url?: string;
    user_action?: string;
    request_id?: string;
    ip_address?: string;
    user_agent?: string;
    context_snapshot?: Record<string, any>;
    sentry_event_id?: string;
    stack_trace?: string;
  };
  performance_metrics: {
    metric_type: "page_load" | "api_call" | "database_query" | "render_time";
    metric_name: string;
    value: number;
    unit: string;
    metadata?: Record<string, any>;
    recorded_at: string;
  };
  error_logs: {
    error_type: string;
    error_message: string;
    stack_trace?: string;
    user_id?: Id<"users">;
    context?: Record<string, any>;
    occurred_at: string;
    resolved: boolean;
    resolved_by?: Id<"users">;
    resolved_at?: string;
    resolution?: string;
  };
  system_alerts: {
    alert_type: "error" | "performance" | "security" | "system";
    severity: "low" | "medium" | "high" | "critical";
    title: string;
    description: string;
    metadata?: Record<string, any>;
    created_at: string;
    acknowledged: boolean;
    acknowledged_by?: Id<"users">;
    acknowledged_at?: string;
    resolved: boolean;
  };
  ai_chats: {
    user_id: Id<"users">;
    title: string;
    prompt: string;
    stream_id: string;
    status: "pending" | "completed" | "error";
    created_at: number;
    updated_at: number;
  };
  agent_threads: {
    user_id: Id<"users">;
    title: string;
    agent_name: string;
    metadata?: Record<string, any>;
    status: "active" | "archived";
    created_at: number;
    last_message_at: number;
  };
  agent_messages: {
    thread_id: Id<"agent_threads">;
    role: "user" | "assistant" | "system" | "tool";
    content: string;
    agent_name?: string;
    tool_calls?: Record<string, any>;
    metadata?: Record<string, any>;
    created_at: number;
  };
  agent_tools: {
    name: string;
    description: string;
    parameters: any;
    function_name: string;
    enabled: boolean;
    created_at: number;
  };
  agent_usage: {
    user_id: Id<"users">;
    thread_id?: Id<"agent_threads">;
    agent_name: string;
    model: string;
    input_tokens: number;
    output_tokens: number;
    cost_cents?: number;
    created_at: number;
  };
  system_settings: {
    category: string;
    key: string;
    value: any;
    label?: string;
    description?: string;
    is_public?: boolean;
    is_encrypted?: boolean;
    data_type?: string;
    default_value?: any;
    updated_by?: Id<"users">;
    updated_at?: number;
    version?: number;
  };
  theme_presets: {
    name: string;
    description?: string;
    colors: {
      accent?: string;
      background?: string;
      background_secondary?: string;
      background_tertiary?: string;
      border?: string;
      border_hover?: string;
      error?: string;
      info?: string;
      primary: string;
      primary_active?: string;
      primary_hover?: string;
      secondary?: string;
      secondary_hover?: string;
      sidebar_active?: string;
      sidebar_bg?: string;
      sidebar_text?: string;
      success?: string;
      text_muted?: string;
      text_primary?: string;
      text_secondary?: string;
      warning?: string;
    };
    typography?: {
      base_size?: number;
      font_family?: string;
      font_weight_bold?: number;
      font_weight_medium?: number;
      font_weight_regular?: number;
      heading_scale?: number;
      line_height?: number;
    };
    layout?: {
      border_radius?: number;
      card_elevation?: string;
      container_max_width?: number;
      sidebar_width?: number;
      spacing_scale?: string;
    };
    is_default?: boolean;
    is_custom?: boolean;
    created_by?: Id<"users">;
    created_at?: number;
  };
}

export type TableName = keyof Tables;

/** A stored document as a caller gets it: its fields plus the system fields the room sets.
 *  Fields in `RestrictedFields` are absent for roles that may not read them. */
export type Doc<T extends TableName> = Omit<Tables[T], Restricted<T>> &
  Partial<Pick<Tables[T], Restricted<T>>> & { _id: Id<T>; _creationTime: number };

type Restricted<T extends TableName> = T extends keyof RestrictedFields ? RestrictedFields[T] & keyof Tables[T] : never;

/** What an insert into table `T` takes. */
export type Insert<T extends TableName> = Tables[T];

/** What a patch of a `T` document takes: any subset of its fields. */
export type Patch<T extends TableName> = Partial<Tables[T]>;

/** Every table name, in schema order. */
export const tableNames = [
  "users",
  "beneficiaries",
  "donations",
  "tasks",
  "meetings",
  "meeting_decisions",
  "meeting_action_items",
  "workflow_notifications",
  "messages",
  "parameters",
  "aid_applications",
  "finance_records",
  "files",
  "document_versions",
  "report_configs",
  "security_events",
  "user_sessions",
  "rate_limit_log",
  "two_factor_settings",
  "trusted_devices",
  "partners",
  "consents",
  "bank_accounts",
  "dependents",
  "scholarships",
  "scholarship_applications",
  "scholarship_payments",
  "communication_logs",
  "analytics_events",
  "audit_logs",
  "errors",
  "error_occurrences",
  "performance_metrics",
  "error_logs",
  "system_alerts",
  "ai_chats",
  "agent_threads",
  "agent_messages",
  "agent_tools",
  "agent_usage",
  "system_settings",
  "theme_presets",
] as const satisfies readonly TableName[];

/** Fields only some roles may read (the schema's field rules). */
export interface RestrictedFields {
  users: "passport_number" | "passwordHash";
  beneficiaries: "tc_no";
  two_factor_settings: "secret";
  bank_accounts: "iban";
  dependents: "tc_no";
  scholarship_applications: "applicant_tc_no";
}
