# Hand-edited as 0001 is: the Application target through oauth2_settings (swappable).

import django.db.models.deletion
from django.db import migrations, models
from oauth2_provider.settings import oauth2_settings


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(oauth2_settings.APPLICATION_MODEL),
        ("django_dpop_oauth2", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="applicationpolicy",
            name="require_pushed_authorization_requests",
            field=models.BooleanField(
                blank=True,
                default=None,
                help_text="Require this client to use pushed authorization requests (RFC 9126). Leave unset "
                "to defer to OAUTH2_PROVIDER['REQUIRE_PUSHED_AUTHORIZATION_REQUESTS'], which it never relaxes.",
                null=True,
            ),
        ),
        migrations.CreateModel(
            name="PushedAuthorizationRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("request_uri", models.CharField(max_length=255, unique=True)),
                ("parameters", models.JSONField(default=dict)),
                ("expires", models.DateTimeField(db_index=True)),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "application",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=oauth2_settings.APPLICATION_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "pushed authorization request",
            },
        ),
    ]
