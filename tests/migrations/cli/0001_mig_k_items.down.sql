DROP TABLE mig_k_items;
