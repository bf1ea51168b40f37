-- Grafana's role on CLEAN DATA: it logs in and reads every table, and the tables later migrations
-- add, and writes nothing. Run it as a superuser, connected to the CLEAN DATA database (not RAW
-- DATA: Grafana has no business with the inference requests):
--
--   psql "$CLEAN_DATA_ADMIN_URL" -v role=grafana_reader -f deploy/grafana/readonly-role.sql
--
-- The password comes from the environment's TASADOR_GRAFANA_CLEAN_DB_PASSWORD (the variable
-- Grafana's provisioning reads), so it is on no command line. Running it again changes nothing but
-- the password.

\set ON_ERROR_STOP on
\set QUIET on

\if :{?role}
\else
  DO $$ BEGIN RAISE EXCEPTION 'name the role: psql -v role=NAME -f readonly-role.sql'; END $$;
\endif
\set password `printenv TASADOR_GRAFANA_CLEAN_DB_PASSWORD`
SELECT :'password' = '' AS no_password \gset
\if :no_password
  DO $$ BEGIN RAISE EXCEPTION 'no password: set TASADOR_GRAFANA_CLEAN_DB_PASSWORD'; END $$;
\endif

SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec

ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'password';
-- every session of it only reads, and gives up on a runaway dashboard query
ALTER ROLE :"role" SET default_transaction_read_only = on;
ALTER ROLE :"role" SET statement_timeout = '30s';

GRANT CONNECT ON DATABASE :"DBNAME" TO :"role";
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"role";
-- tables created later by the database's owner, who runs the migrations
SELECT format(
    'ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT ON TABLES TO %I',
    pg_get_userbyid(datdba), :'role'
)
FROM pg_database WHERE datname = current_database() \gexec

\echo 'role' :"role" 'reads' :"DBNAME"
