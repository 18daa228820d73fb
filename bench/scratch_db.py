"""Scratch PostgreSQL databases for the benchmarks (dropped and recreated each run)."""


def _admin(url: str):
    import psycopg2

    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    return admin, url.rsplit("/", 1)[1]


def drop_database(url: str) -> None:
    admin, name = _admin(url)
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def recreate_database(url: str) -> None:
    drop_database(url)
    admin, name = _admin(url)
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
