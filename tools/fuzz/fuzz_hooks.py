"""Vigil's own Schemathesis check, loaded through SCHEMATHESIS_HOOKS by tools/fuzz.py."""

import schemathesis

# Operations that need Stripe; the fuzz server has no Stripe keys (see schemathesis.toml).
NEEDS_STRIPE = {
    "change_plan",
    "preview_plan_change",
    "create_checkout_session",
    "create_portal_session",
    "cancel_subscription",
    "resume_subscription",
    "update_billing_settings",
    "set_tax_id",
    "remove_tax_id",
}


@schemathesis.check
def vigil_problems(ctx, response, case):
    """Every error is problem+json with a stable code; a 503 on a billing route is billing_not_configured."""
    if response.status_code < 400 or case.operation.path in ("/metrics",):
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/problem+json"), f"error without problem+json: {content_type}"
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"], "a problem without a code"
    assert body.get("status") == response.status_code, "the problem's status differs from the response's"
    if response.status_code == 503 and case.operation.definition.raw.get("operationId") in NEEDS_STRIPE:
        assert body["code"] == "billing_not_configured", f"503 {body['code']} on a billing route"
    if response.status_code == 429 or (response.status_code == 503 and body["code"] != "billing_not_configured"):
        assert "retry-after" in response.headers, f"{response.status_code} {body['code']} without Retry-After"
    return None
