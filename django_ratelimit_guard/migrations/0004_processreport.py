from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("django_ratelimit_guard", "0003_ratelimitoverride")]

    operations = [
        migrations.CreateModel(
            name="ProcessReport",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("host", models.CharField(max_length=255)),
                ("pid", models.PositiveIntegerField()),
                ("seen_at", models.DateTimeField(db_index=True)),
                ("started_at", models.DateTimeField()),
                ("report", models.TextField()),
            ],
            options={"ordering": ("host", "pid"), "verbose_name": "process report"},
        ),
        migrations.AddConstraint(
            model_name="processreport",
            constraint=models.UniqueConstraint(
                fields=("host", "pid"), name="rlg_processreport_host_pid"
            ),
        ),
    ]
