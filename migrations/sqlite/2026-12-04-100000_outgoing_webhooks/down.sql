DROP TABLE webhook_attempts;
DROP TABLE events;
DROP TABLE webhook_endpoints;
