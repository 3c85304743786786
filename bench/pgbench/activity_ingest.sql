-- POST /api/v1/agent/activity with a batch of 100 spans, as the API issues it (agents::store::find_live_by_secret,
-- then one write transaction: billing::service::effective_tier's two reads, policy::store::find,
-- activity::store::insert_new's one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, and
-- storage::meter::reserve's conditional UPDATE). The API binds 100 VALUES rows; here generate_series makes the
-- same 100 rows with fresh ids, so each transaction stores its whole batch, as the wrk driver's batches do.
\set n random(0, :agents - 1)
SELECT "agents"."id" AS agent_id, "agents"."company_id" AS company_id, COALESCE("agents"."employee_id", '') AS employee_id FROM "agents" WHERE (("agents"."secret_hash" = encode(sha256(convert_to('vigil_ag_bench' || lpad(:n::text, 26, '0'), 'UTF8')), 'hex')) AND ("agents"."revoked_at" IS NULL)) LIMIT 1 \gset
BEGIN;
SELECT "subscriptions"."tier_code", "subscriptions"."status", "subscriptions"."grace_period_ends_at" FROM "subscriptions" WHERE ("subscriptions"."company_id" = :company_id) LIMIT 1;
SELECT "tiers"."code", "tiers"."name", "tiers"."max_storage_gb", "tiers"."retention_days", "tiers"."features" FROM "tiers" WHERE ("tiers"."code" = 'PRO') LIMIT 1;
SELECT "policies"."version", "policies"."settings", "policies"."updated_at" FROM "policies" WHERE ("policies"."company_id" = :company_id) LIMIT 1;
INSERT INTO activity_records (id, company_id, agent_id, employee_id, client_id, state, application, window_title, url, started_at, ended_at, size_bytes, received_at)
SELECT gen_random_uuid()::text, :company_id, :agent_id, NULLIF(:employee_id, ''), 'p' || gen_random_uuid()::text, CASE WHEN i % 4 = 0 THEN 'IDLE' ELSE 'ACTIVE' END, 'Firefox', 'Quarterly report - Docs', 'https://docs.example.com/q3', (now() AT TIME ZONE 'UTC') - interval '1 hour' + i * interval '30 seconds', (now() AT TIME ZONE 'UTC') - interval '1 hour' + i * interval '30 seconds' + interval '29 seconds', 240, (now() AT TIME ZONE 'UTC')
FROM generate_series(0, 99) AS i
ON CONFLICT (agent_id, client_id) DO NOTHING RETURNING size_bytes;
UPDATE "companies" SET "storage_bytes" = ("companies"."storage_bytes" + 24000) WHERE (("companies"."id" = :company_id) AND (("companies"."storage_bytes" + 24000) <= 50000000000)) RETURNING "companies"."storage_bytes";
COMMIT;
