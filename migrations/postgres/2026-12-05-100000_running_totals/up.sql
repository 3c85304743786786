-- Running totals of the lists whose totals the web app shows on every page: the payment history's summary
-- (per company and invoice status) and each recipient's alert counts. Triggers keep them in the transaction
-- of every write of an invoice or an alert, whatever code path makes it (the mirror, a sweep, a cascade),
-- so that a page costs the same for a company with ten invoices or ten thousand.
-- No write may land between a backfill and its trigger (instances of the previous release keep writing
-- during a rolling deploy): the lock waits for writes in flight and holds new ones until the end of the
-- migration's transaction.
LOCK TABLE invoices, alerts IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE invoice_totals (
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    invoice_count BIGINT NOT NULL DEFAULT 0,
    amount_due BIGINT NOT NULL DEFAULT 0,
    amount_paid BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, status)
);

INSERT INTO invoice_totals (company_id, status, invoice_count, amount_due, amount_paid)
SELECT company_id, status, COUNT(*), COALESCE(SUM(amount_due), 0), COALESCE(SUM(amount_paid), 0)
FROM invoices GROUP BY company_id, status;

CREATE FUNCTION invoice_totals_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE invoice_totals
        SET invoice_count = invoice_count - 1,
            amount_due = amount_due - OLD.amount_due,
            amount_paid = amount_paid - OLD.amount_paid
        WHERE company_id = OLD.company_id AND status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO invoice_totals (company_id, status, invoice_count, amount_due, amount_paid)
        VALUES (NEW.company_id, NEW.status, 1, NEW.amount_due, NEW.amount_paid)
        ON CONFLICT (company_id, status) DO UPDATE
        SET invoice_count = invoice_totals.invoice_count + 1,
            amount_due = invoice_totals.amount_due + EXCLUDED.amount_due,
            amount_paid = invoice_totals.amount_paid + EXCLUDED.amount_paid;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER invoices_totals_insert_delete AFTER INSERT OR DELETE ON invoices
FOR EACH ROW EXECUTE FUNCTION invoice_totals_follow();
-- The mirror rewrites an invoice on every event; only a change of what the totals count touches them.
CREATE TRIGGER invoices_totals_update AFTER UPDATE OF company_id, status, amount_due, amount_paid ON invoices
FOR EACH ROW
WHEN (OLD.company_id IS DISTINCT FROM NEW.company_id OR OLD.status IS DISTINCT FROM NEW.status
      OR OLD.amount_due IS DISTINCT FROM NEW.amount_due OR OLD.amount_paid IS DISTINCT FROM NEW.amount_paid)
EXECUTE FUNCTION invoice_totals_follow();

CREATE TABLE alert_counts (
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    recipient_user_id TEXT NOT NULL,
    alert_count BIGINT NOT NULL DEFAULT 0,
    unread_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, recipient_user_id)
);

INSERT INTO alert_counts (company_id, recipient_user_id, alert_count, unread_count)
SELECT company_id, recipient_user_id, COUNT(*), COUNT(*) FILTER (WHERE read_at IS NULL)
FROM alerts GROUP BY company_id, recipient_user_id;

CREATE FUNCTION alert_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE alert_counts
        SET alert_count = alert_count - 1,
            unread_count = unread_count - CASE WHEN OLD.read_at IS NULL THEN 1 ELSE 0 END
        WHERE company_id = OLD.company_id AND recipient_user_id = OLD.recipient_user_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO alert_counts (company_id, recipient_user_id, alert_count, unread_count)
        VALUES (NEW.company_id, NEW.recipient_user_id, 1, CASE WHEN NEW.read_at IS NULL THEN 1 ELSE 0 END)
        ON CONFLICT (company_id, recipient_user_id) DO UPDATE
        SET alert_count = alert_counts.alert_count + 1,
            unread_count = alert_counts.unread_count + EXCLUDED.unread_count;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER alerts_counts_insert_delete AFTER INSERT OR DELETE ON alerts
FOR EACH ROW EXECUTE FUNCTION alert_counts_follow();
-- Marking read changes `read_at` from NULL to a time; a second mark (a new time) changes no count.
CREATE TRIGGER alerts_counts_update AFTER UPDATE OF company_id, recipient_user_id, read_at ON alerts
FOR EACH ROW
WHEN (OLD.company_id IS DISTINCT FROM NEW.company_id OR OLD.recipient_user_id IS DISTINCT FROM NEW.recipient_user_id
      OR (OLD.read_at IS NULL) <> (NEW.read_at IS NULL))
EXECUTE FUNCTION alert_counts_follow();

-- Pages in the list's order without a sort of every matching row: the id breaks ties of the time.
CREATE INDEX invoices_company_issued_id_idx ON invoices (company_id, issued_at, id);
CREATE INDEX invoices_company_status_issued_id_idx ON invoices (company_id, status, issued_at, id);
DROP INDEX invoices_company_issued_idx;
DROP INDEX invoices_company_status_idx;

-- Cursor slices of the lists (newest first by creation) read an index in order, however deep they go.
CREATE INDEX users_company_created_idx ON users (company_id, created_at, id);
CREATE INDEX employees_company_created_idx ON employees (company_id, created_at, id);
CREATE INDEX api_keys_company_created_idx ON api_keys (company_id, created_at, id);
CREATE INDEX enrollment_tokens_company_created_idx ON enrollment_tokens (company_id, created_at, id);
