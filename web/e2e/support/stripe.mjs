// What Stripe does in the e2e run: the customer's payment at localstripe, and signed webhook deliveries.
import { createHmac, randomBytes } from "node:crypto";

export const SECRET_KEY = "sk_test_vigil_e2e";
export const WEBHOOK_SECRET = "whsec_vigil_e2e_secret";
export const PRICE_PRO = "price_pro_test";
export const PRICE_ENTERPRISE = "price_enterprise_test";

/** A form POST (or GET/DELETE) to localstripe's /v1 API, as Stripe's clients send it. */
export async function stripeCall(base, method, path, form = {}) {
  const response = await fetch(`${base}/v1${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${SECRET_KEY}:`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
      connection: "close",
    },
    body: method === "GET" ? undefined : new URLSearchParams(form).toString(),
  });
  const body = await response.json();
  if (!response.ok)
    throw new Error(`localstripe ${method} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** What a customer does at Checkout: enter a card, get subscribed to the price. Returns the subscription. */
export async function payAtCheckout(base, session, card = "4242424242424242") {
  const token = await stripeCall(base, "POST", "/tokens", {
    "card[number]": card,
    "card[exp_month]": "12",
    "card[exp_year]": "2030",
    "card[cvc]": "123",
  });
  await stripeCall(base, "POST", `/customers/${session.customer}/sources`, { source: token.id });
  return stripeCall(base, "POST", "/subscriptions", {
    customer: session.customer,
    "items[0][price]": session.price,
    "metadata[company_id]": session.metadata.company_id,
  });
}

let clock = Math.floor(Date.now() / 1000);

/** A Stripe event around `object`; each one a second after the previous, as the API orders by `created`. */
export function event(type, object) {
  clock = Math.max(clock + 1, Math.floor(Date.now() / 1000));
  return {
    id: `evt_${randomBytes(12).toString("hex")}`,
    object: "event",
    api_version: "2025-03-31.basil",
    created: clock,
    type,
    livemode: false,
    data: { object },
  };
}

/** Delivers an event to the API signed as Stripe signs: v1 = HMAC-SHA256(secret, "t.body"). */
export async function deliver(apiBase, stripeEvent) {
  const body = JSON.stringify(stripeEvent);
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac("sha256", WEBHOOK_SECRET).update(`${t}.${body}`).digest("hex");
  const response = await fetch(`${apiBase}/api/v1/stripe/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": `t=${t},v1=${v1}` },
    body,
  });
  const answer = await response.json();
  if (!response.ok)
    throw new Error(`webhook ${stripeEvent.type}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** A Stripe invoice of `subscription` in the shape the API reads. */
export function invoice(subscription, { status, amountPaid, number }) {
  const id = `in_${randomBytes(10).toString("hex")}`;
  return {
    id,
    object: "invoice",
    customer: subscription.customer,
    subscription: subscription.id,
    number,
    status,
    amount_due: 2900,
    amount_paid: amountPaid,
    currency: "usd",
    created: Math.floor(Date.now() / 1000),
    hosted_invoice_url: `https://invoice.stripe.test/i/${id}`,
    invoice_pdf: `https://pay.stripe.test/invoice/${id}/pdf`,
    status_transitions: { paid_at: status === "paid" ? Math.floor(Date.now() / 1000) : null },
  };
}
