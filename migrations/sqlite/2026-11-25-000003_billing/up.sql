-- The local mirror of Stripe: each company's customer, subscription and invoices. Stripe is the source of
-- truth; `stripe_updated_at` (seconds since the epoch, from Stripe) keeps an older event from overwriting
-- newer state.

ALTER TABLE companies ADD COLUMN stripe_customer_id TEXT;
ALTER TABLE companies ADD COLUMN tax_id_type TEXT;
ALTER TABLE companies ADD COLUMN tax_id_value TEXT;
ALTER TABLE companies ADD COLUMN stripe_tax_id TEXT;
CREATE UNIQUE INDEX companies_stripe_customer_idx ON companies (stripe_customer_id);

ALTER TABLE subscriptions ADD COLUMN stripe_subscription_id TEXT;
ALTER TABLE subscriptions ADD COLUMN stripe_item_id TEXT;
ALTER TABLE subscriptions ADD COLUMN stripe_price_id TEXT;
ALTER TABLE subscriptions ADD COLUMN current_period_start TIMESTAMP;
ALTER TABLE subscriptions ADD COLUMN current_period_end TIMESTAMP;
ALTER TABLE subscriptions ADD COLUMN auto_renew BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE subscriptions ADD COLUMN default_payment_method TEXT;
ALTER TABLE subscriptions ADD COLUMN cancelled_at TIMESTAMP;
ALTER TABLE subscriptions ADD COLUMN grace_period_ends_at TIMESTAMP;
ALTER TABLE subscriptions ADD COLUMN stripe_updated_at BIGINT;
CREATE UNIQUE INDEX subscriptions_stripe_subscription_idx ON subscriptions (stripe_subscription_id);

CREATE TABLE invoices (
    id                     TEXT PRIMARY KEY,
    company_id             TEXT NOT NULL REFERENCES companies (id),
    stripe_invoice_id      TEXT NOT NULL UNIQUE,
    stripe_subscription_id TEXT,
    number                 TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('DRAFT', 'OPEN', 'PAID', 'VOID', 'UNCOLLECTIBLE')),
    amount_due             BIGINT NOT NULL,
    amount_paid            BIGINT NOT NULL,
    currency               TEXT NOT NULL,
    issued_at              TIMESTAMP NOT NULL,
    due_at                 TIMESTAMP,
    paid_at                TIMESTAMP,
    hosted_invoice_url     TEXT,
    invoice_pdf            TEXT,
    stripe_updated_at      BIGINT NOT NULL,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
CREATE INDEX invoices_company_issued_idx ON invoices (company_id, issued_at);
CREATE INDEX invoices_company_status_idx ON invoices (company_id, status, issued_at);
