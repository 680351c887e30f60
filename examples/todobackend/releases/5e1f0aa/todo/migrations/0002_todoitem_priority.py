from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("todo", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="todoitem",
            name="priority",
            field=models.IntegerField(default=0),
        ),
    ]
