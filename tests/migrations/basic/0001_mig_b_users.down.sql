DROP TABLE mig_b_users;
