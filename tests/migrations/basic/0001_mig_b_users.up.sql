-- The first table.
CREATE TABLE mig_b_users (
    id INTEGER NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL -- a comment; with a semicolon
);
