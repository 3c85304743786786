-- The card Stripe charges the company's invoices with, as last read from Stripe: the subscription's default
-- payment method, else the customer's invoice default, else its default source. `card_read_at` (Unix
-- seconds, taken before the read) orders reads and events, so an older read never overwrites a newer one.
ALTER TABLE companies ADD COLUMN card_brand TEXT;
ALTER TABLE companies ADD COLUMN card_last4 TEXT;
ALTER TABLE companies ADD COLUMN card_exp_month INTEGER;
ALTER TABLE companies ADD COLUMN card_exp_year INTEGER;
ALTER TABLE companies ADD COLUMN card_payment_method TEXT;
ALTER TABLE companies ADD COLUMN card_read_at BIGINT;
