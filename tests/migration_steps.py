"""One data migration at a time, for tests of what a migration does to rows written before it:
every other app at its latest state, one app just before the migration, then just after it, and
the whole schema back at its latest state whatever happens (the test database is shared)."""
from contextlib import contextmanager

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


class MigrationStep:
    def __init__(self, app: str, before: str, after: str):
        self.executor = MigrationExecutor(connection)
        self.others = [node for node in self.executor.loader.graph.leaf_nodes() if node[0] != app]
        self.before, self.after = [(app, before)], [(app, after)]
        self.executor.migrate(self.before)
        self.old_apps = self.executor.loader.project_state(self.others + self.before).apps

    def migrate(self):
        """Run the migration; returns the app registry as it stands after it."""
        executor = MigrationExecutor(connection)
        executor.migrate(self.after)
        return executor.loader.project_state(self.others + self.after).apps


@contextmanager
def migration_step(app: str, before: str, after: str):
    """``with migration_step("projects", "0011_…", "0012_…") as step``: write rows with
    ``step.old_apps``, then ``new_apps = step.migrate()``."""
    try:
        yield MigrationStep(app, before, after)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
