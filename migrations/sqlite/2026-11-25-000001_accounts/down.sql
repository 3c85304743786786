DROP TABLE subscriptions;
DROP TABLE tiers;
DROP TABLE audit_logs;
DROP TABLE throttle_events;
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE companies;
