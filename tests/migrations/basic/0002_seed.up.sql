INSERT INTO mig_b_users (id, name) VALUES (1, 'Mike');
INSERT INTO mig_b_users (id, name) VALUES (2, 'it''s; Sara');
