-- The alert types of the trust work (revoked keys, a cancelled duplicate subscription, over plan limit,
-- scheduled deletion, a payment the customer must complete, a disabled webhook endpoint), in one migration
-- so that no later one has to change the constraint again.
ALTER TABLE alerts DROP CONSTRAINT alerts_alert_type_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_alert_type_check CHECK (alert_type IN ('AGENT_OFFLINE', 'PAYMENT_FAILED', 'PAYMENT_RECOVERED',
                            'SUBSCRIPTION_EXPIRING', 'SUBSCRIPTION_CANCELLED', 'USAGE_HIGH', 'POLICY_CHANGED',
                            'API_KEYS_REVOKED', 'DUPLICATE_SUBSCRIPTION_CANCELLED', 'OVER_PLAN_LIMIT',
                            'DATA_DELETION_SCHEDULED', 'PAYMENT_ACTION_REQUIRED', 'WEBHOOK_ENDPOINT_DISABLED'));
