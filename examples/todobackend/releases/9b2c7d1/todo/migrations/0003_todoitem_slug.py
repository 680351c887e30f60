# The release's mistake, kept on purpose: the column is added with one default
# for every existing row, then made unique. With two or more rows MariaDB
# refuses the index (1062 Duplicate entry ''), and since MariaDB cannot roll
# back DDL the new column stays behind, unrecorded in django_migrations.
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("todo", "0002_todoitem_priority"),
    ]

    operations = [
        migrations.AddField(
            model_name="todoitem",
            name="slug",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="todoitem",
            name="slug",
            field=models.CharField(default="", max_length=64, unique=True),
        ),
    ]
