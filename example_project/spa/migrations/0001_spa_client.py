"""Data migration: the SPA's public client ``spa`` exists after ``manage.py migrate`` alone."""

from __future__ import annotations

from django.db import migrations
from oauth2_provider.settings import oauth2_settings

from example_project.spa.client import CLIENT_ID, ensure_client


def create_client(apps, schema_editor):
    app_label, model_name = oauth2_settings.APPLICATION_MODEL.split(".")
    ensure_client(apps.get_model(app_label, model_name))


def delete_client(apps, schema_editor):
    app_label, model_name = oauth2_settings.APPLICATION_MODEL.split(".")
    apps.get_model(app_label, model_name).objects.filter(client_id=CLIENT_ID).delete()


class Migration(migrations.Migration):
    dependencies = [migrations.swappable_dependency(oauth2_settings.APPLICATION_MODEL)]

    operations = [migrations.RunPython(create_client, delete_client)]
