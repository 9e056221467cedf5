ALTER TABLE mig_b_users ADD COLUMN email VARCHAR(200);
UPDATE mig_b_users SET email = 'mike@example.com' WHERE id = 1;
