// A small Stripe double in front of localstripe: it answers what localstripe lacks (Checkout Sessions and
// Billing Portal sessions, with Stripe-shaped objects whose `url` is a page of this double) and proxies
// every other request to localstripe unchanged.
import http from "node:http";
import { randomBytes } from "node:crypto";

function id(prefix) {
  return `${prefix}_test_${randomBytes(12).toString("hex")}`;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res, status, body, type = "application/json") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function escape(text) {
  return String(text).replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c],
  );
}

/**
 * Starts the double on a free port in front of `localstripeBase` (e.g. http://127.0.0.1:8420).
 * Returns { base, checkoutSessions, portalSessions, close }.
 */
export async function startStripeDouble(localstripeBase) {
  const checkoutSessions = [];
  const portalSessions = [];
  const upstream = new URL(localstripeBase);

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, "http://double");
      const body = await readBody(req);
      if (req.method === "POST" && url.pathname === "/v1/checkout/sessions") {
        const form = new URLSearchParams(body.toString());
        const sessionId = id("cs");
        const session = {
          id: sessionId,
          object: "checkout.session",
          mode: form.get("mode"),
          status: "open",
          payment_status: "unpaid",
          customer: form.get("customer"),
          client_reference_id: form.get("client_reference_id"),
          success_url: form.get("success_url"),
          cancel_url: form.get("cancel_url"),
          metadata: { company_id: form.get("metadata[company_id]") },
          price: form.get("line_items[0][price]"),
          url: `${base}/checkout/${sessionId}`,
          livemode: false,
          created: Math.floor(Date.now() / 1000),
        };
        checkoutSessions.push(session);
        return send(res, 200, session);
      }
      if (req.method === "POST" && url.pathname === "/v1/billing_portal/sessions") {
        const form = new URLSearchParams(body.toString());
        const session = {
          id: id("bps"),
          object: "billing_portal.session",
          customer: form.get("customer"),
          return_url: form.get("return_url"),
          livemode: false,
          created: Math.floor(Date.now() / 1000),
        };
        session.url = `${base}/portal/${session.id}`;
        portalSessions.push(session);
        return send(res, 200, session);
      }
      if (req.method === "GET" && url.pathname.startsWith("/checkout/")) {
        const session = checkoutSessions.find((s) => url.pathname === `/checkout/${s.id}`);
        if (!session) return send(res, 404, "No such checkout session", "text/plain");
        const success = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id);
        return send(
          res,
          200,
          `<!doctype html><html lang="en"><head><title>Stripe Checkout (test double)</title></head><body>
<h1>Test checkout</h1><p>Subscribe to <b>${escape(session.price)}</b> for customer ${escape(session.customer)}.</p>
<p><a id="pay" href="${escape(success)}">Pay and subscribe</a> · <a id="cancel" href="${escape(session.cancel_url)}">Back</a></p>
</body></html>`,
          "text/html",
        );
      }
      if (req.method === "GET" && url.pathname.startsWith("/portal/")) {
        const session = portalSessions.find((s) => url.pathname === `/portal/${s.id}`);
        if (!session) return send(res, 404, "No such portal session", "text/plain");
        return send(
          res,
          200,
          `<!doctype html><html lang="en"><head><title>Billing portal (test double)</title></head><body>
<h1>Test billing portal</h1><p><a id="return" href="${escape(session.return_url)}">Return</a></p></body></html>`,
          "text/html",
        );
      }
      // Everything else is localstripe's. A fresh connection each time: aiohttp may close an idle one just
      // as the next request is sent on it.
      const headers = { ...req.headers, host: upstream.host, connection: "close" };
      delete headers["content-length"];
      if (body.length > 0) headers["content-length"] = String(body.length);
      const proxied = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
          agent: false,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      proxied.on("error", (error) => send(res, 502, { error: { message: String(error) } }));
      proxied.end(body);
    } catch (error) {
      send(res, 500, { error: { message: String(error) } });
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    checkoutSessions,
    portalSessions,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
