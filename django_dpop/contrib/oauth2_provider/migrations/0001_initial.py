# Hand-edited as DOT's own migrations are: swappable targets through oauth2_settings, so that
# projects that swap DOT's models migrate too (see shared/research/dot-integration.md §2.3).

import django.db.models.deletion
from django.db import migrations, models
from oauth2_provider.settings import oauth2_settings


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(oauth2_settings.APPLICATION_MODEL),
        migrations.swappable_dependency(oauth2_settings.ACCESS_TOKEN_MODEL),
        migrations.swappable_dependency(oauth2_settings.REFRESH_TOKEN_MODEL),
        migrations.swappable_dependency(oauth2_settings.GRANT_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessTokenBinding",
            fields=[
                (
                    "access_token",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="dpop_binding",
                        serialize=False,
                        to=oauth2_settings.ACCESS_TOKEN_MODEL,
                    ),
                ),
                ("jkt", models.CharField(max_length=43)),
            ],
            options={
                "verbose_name": "access token DPoP binding",
            },
        ),
        migrations.CreateModel(
            name="ApplicationPolicy",
            fields=[
                (
                    "application",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="dpop_policy",
                        serialize=False,
                        to=oauth2_settings.APPLICATION_MODEL,
                    ),
                ),
                (
                    "dpop_bound_access_tokens",
                    models.BooleanField(
                        default=False,
                        help_text="Refuse this client's token requests that carry no DPoP proof.",
                    ),
                ),
            ],
            options={
                "verbose_name": "application DPoP policy",
                "verbose_name_plural": "application DPoP policies",
            },
        ),
        migrations.CreateModel(
            name="GrantBinding",
            fields=[
                (
                    "grant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="dpop_binding",
                        serialize=False,
                        to=oauth2_settings.GRANT_MODEL,
                    ),
                ),
                ("jkt", models.CharField(max_length=43)),
            ],
            options={
                "verbose_name": "authorization code DPoP binding",
            },
        ),
        migrations.CreateModel(
            name="RefreshTokenBinding",
            fields=[
                (
                    "refresh_token",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="dpop_binding",
                        serialize=False,
                        to=oauth2_settings.REFRESH_TOKEN_MODEL,
                    ),
                ),
                ("jkt", models.CharField(max_length=43)),
            ],
            options={
                "verbose_name": "refresh token DPoP binding",
            },
        ),
    ]
