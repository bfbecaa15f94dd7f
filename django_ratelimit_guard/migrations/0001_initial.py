from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="BreakerEvent",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("time", models.DateTimeField(db_index=True)),
                ("host", models.CharField(max_length=255)),
                ("pid", models.PositiveIntegerField()),
                ("scope", models.CharField(max_length=255)),
                ("from_state", models.CharField(max_length=16)),
                ("to_state", models.CharField(max_length=16)),
                ("reason", models.CharField(blank=True, max_length=255)),
            ],
            options={"ordering": ("-time", "-id"), "verbose_name": "breaker event"},
        ),
        migrations.CreateModel(
            name="Status",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "verbose_name": "status",
                "verbose_name_plural": "status",
                "permissions": (
                    ("view_status", "Can view the rate limit guard status page"),
                    ("manage_guard", "Can reset breakers, clients and the fallback store"),
                ),
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
