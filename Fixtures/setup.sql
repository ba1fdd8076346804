-- Roles and database used by the tests; applied by TemporaryPostgres (psql, superuser
-- `postgres`, Unix socket) right after initdb, and usable with docker-compose.yml.
-- Must match Fixtures/pg_hba.conf and TemporaryPostgres.roles.
-- This file is UTF-8 (tusk_scram_utf8 has a non-ASCII password).
\set ON_ERROR_STOP on
SET client_encoding = 'UTF8';

SET password_encryption = 'scram-sha-256';
CREATE ROLE tusk_trust LOGIN;
CREATE ROLE tusk_password LOGIN PASSWORD 'tusk_password_pw';
CREATE ROLE tusk_scram LOGIN PASSWORD 'tusk_scram_pw';
CREATE ROLE tusk_scram_utf8 LOGIN PASSWORD 'pässwörd ✓';
-- TLS roles (pg_hba: hostssl scram-sha-256, hostssl cert, hostnossl scram-sha-256).
CREATE ROLE tusk_tls LOGIN PASSWORD 'tusk_tls_pw';
CREATE ROLE tusk_cert LOGIN;
CREATE ROLE tusk_nossl LOGIN PASSWORD 'tusk_nossl_pw';
-- Store tests create least-privilege runtime roles as members of this group (pg_hba.conf lets members in
-- with scram-sha-256); the group itself cannot log in and holds no privileges.
CREATE ROLE tusk_runtime NOLOGIN;

-- Stored as an MD5 verifier so that the `md5` pg_hba method really performs MD5
-- (with a SCRAM verifier the server would silently switch to SCRAM).
SET password_encryption = 'md5';
CREATE ROLE tusk_md5 LOGIN PASSWORD 'tusk_md5_pw';
RESET password_encryption;

CREATE DATABASE tusk OWNER tusk_trust ENCODING 'UTF8' TEMPLATE template0;

-- Let tests terminate other sessions (pg_terminate_backend / pg_cancel_backend) and
-- read everything in pg_stat_activity.
GRANT pg_signal_backend TO tusk_trust;
GRANT pg_monitor TO tusk_trust;

GRANT CONNECT, CREATE, TEMPORARY ON DATABASE tusk
    TO tusk_password, tusk_md5, tusk_scram, tusk_scram_utf8, tusk_tls, tusk_cert, tusk_nossl;

\connect tusk
GRANT USAGE, CREATE ON SCHEMA public
    TO tusk_password, tusk_md5, tusk_scram, tusk_scram_utf8, tusk_tls, tusk_cert, tusk_nossl;
