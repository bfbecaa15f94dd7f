from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("django_ratelimit_guard", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="BreakerCommand",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("scope", models.CharField(max_length=255)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("force_open", "force open"),
                            ("reset", "reset"),
                            ("clear_fallback", "clear fallback store"),
                        ],
                        max_length=16,
                    ),
                ),
                ("reason", models.CharField(blank=True, max_length=255)),
                ("created_at", models.DateTimeField(db_index=True)),
                ("created_by", models.CharField(blank=True, max_length=255)),
            ],
            options={"ordering": ("-id",), "verbose_name": "fleet command"},
        ),
    ]
