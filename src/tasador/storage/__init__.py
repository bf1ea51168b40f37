"""The only code that talks to PostgreSQL: tables, migrations, COPY loaders, the batch records."""
