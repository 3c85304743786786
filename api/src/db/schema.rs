//! The tables, written by hand with only the SQL types both backends share (see migrations/).

diesel::table! {
    companies (id) {
        id -> Text,
        name -> Text,
        billing_email -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        stripe_customer_id -> Nullable<Text>,
        tax_id_type -> Nullable<Text>,
        tax_id_value -> Nullable<Text>,
        stripe_tax_id -> Nullable<Text>,
        storage_bytes -> BigInt,
        retention_days_in_force -> Nullable<Integer>,
        retention_hold_until -> Nullable<Timestamp>,
        retention_held_days -> Nullable<Integer>,
        retention_hold2_until -> Nullable<Timestamp>,
        retention_held2_days -> Nullable<Integer>,
        plan_change_tier -> Nullable<Text>,
        plan_change_until -> Nullable<Timestamp>,
        billing_version -> BigInt,
        customer_version -> BigInt,
        customer_synced_version -> BigInt,
        card_brand -> Nullable<Text>,
        card_last4 -> Nullable<Text>,
        card_exp_month -> Nullable<Integer>,
        card_exp_year -> Nullable<Integer>,
        card_payment_method -> Nullable<Text>,
        card_read_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    outbox_messages (id) {
        id -> Text,
        company_id -> Text,
        topic -> Text,
        dedup_key -> Text,
        payload -> Text,
        created_at -> Timestamp,
        available_at -> Timestamp,
        attempts -> Integer,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        done_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        company_id -> Text,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role -> Text,
        disabled_at -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        user_id -> Text,
        company_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        company_id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scope -> Text,
        created_by_user_id -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    throttle_events (id) {
        id -> Text,
        subject -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    audit_logs (id) {
        id -> Text,
        company_id -> Nullable<Text>,
        actor_type -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        details -> Text,
        client_ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tiers (code) {
        code -> Text,
        name -> Text,
        max_employees -> Nullable<Integer>,
        max_agents -> Nullable<Integer>,
        max_storage_gb -> Nullable<Integer>,
        retention_days -> Integer,
        features -> Text,
        display_order -> Integer,
        monthly_price_minor -> BigInt,
        currency -> Text,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> Text,
        company_id -> Text,
        tier_code -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        stripe_subscription_id -> Nullable<Text>,
        stripe_item_id -> Nullable<Text>,
        stripe_price_id -> Nullable<Text>,
        current_period_start -> Nullable<Timestamp>,
        current_period_end -> Nullable<Timestamp>,
        auto_renew -> Bool,
        default_payment_method -> Nullable<Text>,
        cancelled_at -> Nullable<Timestamp>,
        grace_period_ends_at -> Nullable<Timestamp>,
        stripe_updated_at -> Nullable<BigInt>,
        cancel_at -> Nullable<Timestamp>,
        stripe_subscription_created -> Nullable<BigInt>,
        stripe_schedule_id -> Nullable<Text>,
        scheduled_tier_code -> Nullable<Text>,
        scheduled_change_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    checkout_sessions (id) {
        id -> Text,
        company_id -> Text,
        stripe_session_id -> Text,
        tier_code -> Text,
        url -> Text,
        status -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    invoices (id) {
        id -> Text,
        company_id -> Text,
        stripe_invoice_id -> Text,
        stripe_subscription_id -> Nullable<Text>,
        number -> Nullable<Text>,
        status -> Text,
        amount_due -> BigInt,
        amount_paid -> BigInt,
        currency -> Text,
        issued_at -> Timestamp,
        due_at -> Nullable<Timestamp>,
        paid_at -> Nullable<Timestamp>,
        hosted_invoice_url -> Nullable<Text>,
        invoice_pdf -> Nullable<Text>,
        stripe_updated_at -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stripe_events (id) {
        id -> Text,
        event_id -> Text,
        event_type -> Text,
        api_version -> Nullable<Text>,
        stripe_created -> BigInt,
        company_id -> Nullable<Text>,
        received_at -> Timestamp,
        processed_at -> Nullable<Timestamp>,
        outcome -> Text,
        error -> Nullable<Text>,
        attempts -> Integer,
        payload -> Text,
    }
}

diesel::table! {
    alerts (id) {
        id -> Text,
        company_id -> Text,
        recipient_user_id -> Text,
        alert_type -> Text,
        severity -> Text,
        title -> Text,
        message -> Text,
        related_employee_id -> Nullable<Text>,
        related_data -> Text,
        dedup_key -> Text,
        read_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    stream_tickets (id) {
        id -> Text,
        ticket_hash -> Text,
        user_id -> Text,
        company_id -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(users -> companies (company_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(api_keys -> companies (company_id));
diesel::joinable!(audit_logs -> companies (company_id));
diesel::joinable!(subscriptions -> companies (company_id));
diesel::joinable!(subscriptions -> tiers (tier_code));
diesel::joinable!(checkout_sessions -> companies (company_id));

diesel::table! {
    employees (id) {
        id -> Text,
        company_id -> Text,
        email -> Text,
        name -> Text,
        department -> Nullable<Text>,
        job_title -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    enrollment_tokens (id) {
        id -> Text,
        company_id -> Text,
        token_hash -> Text,
        prefix -> Text,
        max_uses -> Integer,
        uses -> Integer,
        expires_at -> Timestamp,
        created_by_user_id -> Nullable<Text>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    agents (id) {
        id -> Text,
        company_id -> Text,
        employee_id -> Nullable<Text>,
        hostname -> Text,
        os -> Text,
        agent_version -> Text,
        secret_hash -> Text,
        enrolled_at -> Timestamp,
        last_seen_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        offline_alerted -> Bool,
    }
}

diesel::table! {
    policies (company_id) {
        company_id -> Text,
        version -> BigInt,
        settings -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    activity_records (id) {
        id -> Text,
        company_id -> Text,
        agent_id -> Text,
        employee_id -> Nullable<Text>,
        client_id -> Text,
        state -> Text,
        application -> Text,
        window_title -> Nullable<Text>,
        url -> Nullable<Text>,
        started_at -> Timestamp,
        ended_at -> Timestamp,
        size_bytes -> BigInt,
        received_at -> Timestamp,
    }
}

diesel::table! {
    screenshots (id) {
        id -> Text,
        company_id -> Text,
        agent_id -> Text,
        employee_id -> Nullable<Text>,
        client_id -> Text,
        taken_at -> Timestamp,
        content_type -> Text,
        size_bytes -> BigInt,
        object_key -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    blob_deletions (object_key) {
        object_key -> Text,
        queued_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        parked_at -> Nullable<Timestamp>,
        only_if_unreferenced -> Bool,
    }
}

diesel::joinable!(employees -> companies (company_id));
diesel::joinable!(agents -> employees (employee_id));
diesel::joinable!(enrollment_tokens -> companies (company_id));
diesel::joinable!(policies -> companies (company_id));
diesel::joinable!(invoices -> companies (company_id));

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        company_id -> Text,
        url -> Text,
        description -> Text,
        event_types -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        company_id -> Text,
        event_type -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        company_id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> Integer,
        succeeded -> Bool,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    idempotency_keys (scope, idempotency_key) {
        scope -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        claim_token -> Text,
        status_code -> Nullable<Integer>,
        response -> Nullable<Text>,
        locked_until -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::joinable!(webhook_endpoints -> companies (company_id));
diesel::joinable!(webhook_attempts -> webhook_endpoints (endpoint_id));

diesel::table! {
    /// The payment history's running totals per company and invoice status, kept by triggers.
    invoice_totals (company_id, status) {
        company_id -> Text,
        status -> Text,
        invoice_count -> BigInt,
        amount_due -> BigInt,
        amount_paid -> BigInt,
    }
}

diesel::table! {
    /// Each recipient's alert counts, kept by triggers.
    alert_counts (company_id, recipient_user_id) {
        company_id -> Text,
        recipient_user_id -> Text,
        alert_count -> BigInt,
        unread_count -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    companies,
    users,
    refresh_tokens,
    api_keys,
    throttle_events,
    audit_logs,
    tiers,
    subscriptions,
    checkout_sessions,
    employees,
    enrollment_tokens,
    agents,
    policies,
    invoices,
    stripe_events,
    alerts,
    stream_tickets,
    activity_records,
    screenshots,
    blob_deletions,
    outbox_messages,
    webhook_endpoints,
    events,
    webhook_attempts,
    idempotency_keys,
    invoice_totals,
    alert_counts,
);
