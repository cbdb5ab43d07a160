-- migrate:up
CREATE TABLE old (id INT);
