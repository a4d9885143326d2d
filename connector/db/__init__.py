"""The connector's database: models, engine and sessions, migrations."""
