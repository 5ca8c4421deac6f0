-- docker-compose: PostgreSQL's first start (docker-entrypoint-initdb.d, run as the superuser "postgres" in "docintel").
-- The portal connects as "docintel", a role that is NOT a superuser: migrations run as "postgres" (see the web
-- command), and "docintel" gets data privileges on the tables they create. The audit migration then gives
-- audit_auditlog to a NOLOGIN owner and leaves "docintel" SELECT and INSERT only (audit/services.py).
CREATE ROLE docintel LOGIN PASSWORD 'docintel' NOSUPERUSER NOCREATEDB NOCREATEROLE;
GRANT CONNECT, TEMPORARY ON DATABASE docintel TO docintel;
GRANT USAGE ON SCHEMA public TO docintel;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO docintel;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO docintel;
