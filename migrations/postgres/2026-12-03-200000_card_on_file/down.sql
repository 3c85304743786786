ALTER TABLE companies DROP COLUMN card_read_at;
ALTER TABLE companies DROP COLUMN card_payment_method;
ALTER TABLE companies DROP COLUMN card_exp_year;
ALTER TABLE companies DROP COLUMN card_exp_month;
ALTER TABLE companies DROP COLUMN card_last4;
ALTER TABLE companies DROP COLUMN card_brand;
