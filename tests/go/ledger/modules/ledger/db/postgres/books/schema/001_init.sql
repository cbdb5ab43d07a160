-- migrate:up
CREATE TABLE entries (id SERIAL PRIMARY KEY, amount INT);
