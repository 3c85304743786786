import type { Alert, BillingDashboard, Invoice, Session, Tier } from "../api/types";

export const tiers: Tier[] = [
  {
    code: "FREE",
    name: "Free",
    max_employees: 5,
    max_agents: 5,
    max_storage_gb: 1,
    retention_days: 7,
    features: {
      activity_tracking: true,
      screenshots: false,
      website_tracking: false,
      api_access: false,
      priority_support: false,
    },
    display_order: 1,
    monthly_price_minor: 0,
    currency: "usd",
  },
  {
    code: "PRO",
    name: "Pro",
    max_employees: 50,
    max_agents: 100,
    max_storage_gb: 50,
    retention_days: 180,
    features: {
      activity_tracking: true,
      screenshots: true,
      website_tracking: true,
      api_access: true,
      priority_support: false,
    },
    display_order: 2,
    monthly_price_minor: 2900,
    currency: "usd",
  },
  {
    code: "ENTERPRISE",
    name: "Enterprise",
    max_employees: null,
    max_agents: null,
    max_storage_gb: null,
    retention_days: 365,
    features: {
      activity_tracking: true,
      screenshots: true,
      website_tracking: true,
      api_access: true,
      priority_support: true,
    },
    display_order: 3,
    monthly_price_minor: 9900,
    currency: "usd",
  },
];

export const session: Session = {
  access_token: "token-1",
  token_type: "Bearer",
  expires_in: 900,
  user: {
    id: "u1",
    email: "ada@acme.test",
    name: "Ada Lovelace",
    role: "OWNER",
    active: true,
    created_at: "2026-11-01T00:00:00Z",
  },
  company: { id: "c1", name: "Acme", created_at: "2026-11-01T00:00:00Z" },
};

export function billing(overrides: Partial<BillingDashboard> = {}): BillingDashboard {
  return {
    tier: tiers[0]!,
    subscription: { tier: "FREE", effective_tier: "FREE", status: "INACTIVE", auto_renew: false },
    price_minor: 0,
    currency: "usd",
    usage: {
      active_employees: { used: 5, limit: 5, percent: 100 },
      agents: { used: 1, limit: 5, percent: 20 },
      storage_bytes: { used: 0, limit: 1_000_000_000, percent: 0 },
    },
    retention: { plan_days: 30, kept_days: 30 },
    recent_invoices: [],
    billing_configured: true,
    ...overrides,
  };
}

export function invoiceNumbered(n: number, status: Invoice["status"] = "PAID"): Invoice {
  return {
    id: `inv-${n}`,
    stripe_invoice_id: `in_${n}`,
    number: `ACME-${String(n).padStart(4, "0")}`,
    status,
    amount_due: 2900,
    amount_paid: status === "PAID" ? 2900 : 0,
    currency: "usd",
    issued_at: "2026-11-01T00:00:00Z",
    hosted_invoice_url: `https://invoice.stripe.test/${n}`,
    invoice_pdf: `https://invoice.stripe.test/${n}.pdf`,
  };
}

export function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    id: "a1",
    type: "PAYMENT_FAILED",
    severity: "critical",
    title: "A payment failed",
    message: "Invoice ACME-0002 for $29.00 could not be paid.",
    related_data: { invoice_id: "in_2", amount_due: 2900, currency: "usd" },
    read: false,
    resolved: false,
    created_at: "2026-11-25T12:00:00Z",
    ...overrides,
  };
}
