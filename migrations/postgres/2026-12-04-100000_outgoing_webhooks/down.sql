DROP INDEX outbox_messages_leased;
DROP TABLE webhook_attempts;
DROP TABLE events;
DROP TABLE webhook_endpoints;
