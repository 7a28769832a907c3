-- Employee ids compare as bytes, as on SQLite: the database's collation (`C.UTF-8`, `en_US`…)
-- made every key comparison of the register's index a `strcoll`, most of a bulk load's time in
-- PostgreSQL, and ordered keys differently from the other backend.
ALTER TABLE employees ALTER COLUMN employee_id TYPE TEXT COLLATE "C";
ALTER TABLE history ALTER COLUMN employee_id TYPE TEXT COLLATE "C";
ALTER TABLE deletions ALTER COLUMN employee_id TYPE TEXT COLLATE "C";
ALTER TABLE quarantine ALTER COLUMN employee_id TYPE TEXT COLLATE "C";
