-- The heartbeat's SQL as the API issues it (agents::store::touch_agent, then policy::store::find_version),
-- for an agent whose policy is current. The agent's secret is hashed here as the API hashes it in Rust
-- (SHA-256, hex), from the same numbered secrets the wrk driver sends.
\set n random(0, :agents - 1)
UPDATE "agents" SET "last_seen_at" = (now() AT TIME ZONE 'UTC') WHERE (("agents"."secret_hash" = encode(sha256(convert_to('vigil_ag_bench' || lpad(:n::text, 26, '0'), 'UTF8')), 'hex')) AND ("agents"."revoked_at" IS NULL)) AND ("agents"."offline_alerted" = false) RETURNING "agents"."id", "agents"."company_id" \gset
SELECT "policies"."version" FROM "policies" WHERE ("policies"."company_id" = :company_id) LIMIT 1;
