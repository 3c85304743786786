// Verifying a Vigil webhook in Node with nothing but node:crypto (the Standard Webhooks scheme).
//
// In a web framework, pass the raw body (a Buffer, before any JSON parsing) and the headers to `verify`:
//
//     const event = verify(process.env.VIGIL_WEBHOOK_SECRET, req.headers, rawBody);
//
// Run as a script it checks one delivery: the body on stdin, the headers in WEBHOOK_ID, WEBHOOK_TIMESTAMP
// and WEBHOOK_SIGNATURE, the endpoint's secret in VIGIL_WEBHOOK_SECRET; it prints the event type, or exits 1.

import { createHmac, timingSafeEqual } from "node:crypto";

const TOLERANCE_SECONDS = 5 * 60;

/** The event, if `body` was signed with `secret` within the last five minutes; throws otherwise. */
export function verify(secret, headers, body) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) throw new Error("missing webhook headers");
  const age = Math.abs(Date.now() / 1000 - Number(timestamp));
  if (!Number.isFinite(age) || age > TOLERANCE_SECONDS) throw new Error("timestamp outside the tolerance");
  // The key is the base64 after `whsec_`, decoded: not the text of the secret.
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key)
    .update(`${id}.${timestamp}.`)
    .update(body)
    .digest();
  // During a rotation several signatures arrive, space-separated: one matching is enough.
  const matches = signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    if (version !== "v1" || !signature) return false;
    const given = Buffer.from(signature, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new Error("no signature matches");
  return JSON.parse(body.toString("utf8"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const headers = {
    "webhook-id": process.env.WEBHOOK_ID,
    "webhook-timestamp": process.env.WEBHOOK_TIMESTAMP,
    "webhook-signature": process.env.WEBHOOK_SIGNATURE,
  };
  try {
    const event = verify(process.env.VIGIL_WEBHOOK_SECRET, headers, Buffer.concat(chunks));
    // Deliveries are at least once: remember headers["webhook-id"] and skip one seen before.
    console.log(event.type);
  } catch (error) {
    console.error(`refused: ${error.message}`);
    process.exit(1);
  }
}
