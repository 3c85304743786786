ALTER TABLE agents DROP COLUMN offline_alerted;
DROP TABLE stream_tickets;
DROP TABLE alerts;
