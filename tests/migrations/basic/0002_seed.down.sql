DELETE FROM mig_b_users WHERE id IN (1, 2);
