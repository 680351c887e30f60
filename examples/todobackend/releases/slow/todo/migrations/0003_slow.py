# For tests of long-running jobs (timeouts, Ctrl-C, stop): a migration that
# takes SLOW_MIGRATION_SECONDS and touches no table.
import os
import sys
import time

from django.db import migrations


def wait(apps, schema_editor):
    seconds = float(os.environ.get("SLOW_MIGRATION_SECONDS", "60"))
    print(f"  slow migration: sleeping {seconds:g}s", flush=True)
    time.sleep(seconds)


class Migration(migrations.Migration):

    dependencies = [
        ("todo", "0002_todoitem_priority"),
    ]

    operations = [
        migrations.RunPython(wait, migrations.RunPython.noop),
    ]
