ALTER TABLE mig_b_users DROP COLUMN email;
