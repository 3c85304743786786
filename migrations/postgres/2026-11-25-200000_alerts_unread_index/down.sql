DROP INDEX alerts_unread_idx;
