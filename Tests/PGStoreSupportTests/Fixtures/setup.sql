-- Roles and database for PGStoreSupportTests' own server (see pg_hba.conf beside this file).
\set ON_ERROR_STOP on
SET password_encryption = 'scram-sha-256';
CREATE ROLE tusk_trust LOGIN CREATEROLE;
CREATE DATABASE tusk OWNER tusk_trust ENCODING 'UTF8' TEMPLATE template0;
-- PostgreSQL 15 already denies CREATE on public to non-owners; make it explicit for older servers.
\connect tusk
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
