CREATE INDEX ix_mig_k_items_name ON mig_k_items (name);
