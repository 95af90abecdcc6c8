"""StaffProfile, AuditEvent and ApiClient, taken over from inventory with their tables and rows (state only)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _move_content_types(apps, old_label, new_label, model_names):
    """Existing permissions, group grants and admin log entries point at the content type: relabel it, so they
    follow the model. A type created meanwhile under the new label (by a post_migrate run) gives way."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in model_names:
        if ContentType.objects.filter(app_label=old_label, model=model).exists():
            ContentType.objects.filter(app_label=new_label, model=model).delete()
            ContentType.objects.filter(app_label=old_label, model=model).update(app_label=new_label)


def forwards(apps, schema_editor):
    _move_content_types(apps, "inventory", "staff", ['staffprofile', 'auditevent', 'apiclient'])


def backwards(apps, schema_editor):
    _move_content_types(apps, "staff", "inventory", ['staffprofile', 'auditevent', 'apiclient'])


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('inventory', '0008_move_staff_models_to_staff'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are (the models keep them with Meta.db_table): state only.
            state_operations=[
                migrations.CreateModel(
                    name='ApiClient',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=80, unique=True)),
                        ('scope', models.CharField(choices=[('read', 'Read'), ('sell', 'Sell'), ('manage', 'Manage')], default='read', max_length=8)),
                        ('prefix', models.CharField(max_length=16, unique=True)),
                        ('token_hash', models.CharField(max_length=64)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('expires_at', models.DateTimeField(blank=True, help_text='Empty: never expires.', null=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('last_used_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('locations', models.ManyToManyField(related_name='api_clients', to='inventory.location')),
                        ('revoked_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='api_client', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'API client',
                        'db_table': 'inventory_apiclient',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='AuditEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('action', models.CharField(db_index=True, max_length=48)),
                        ('object_type', models.CharField(blank=True, max_length=48)),
                        ('object_id', models.CharField(blank=True, max_length=64)),
                        ('reason', models.CharField(blank=True, max_length=200)),
                        ('data', models.JSONField(blank=True, default=dict)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('approver', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('location', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to='inventory.location')),
                    ],
                    options={
                        'db_table': 'inventory_auditevent',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='StaffProfile',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('pin_hash', models.CharField(blank=True, max_length=128)),
                        ('pin_failed_attempts', models.PositiveIntegerField(default=0)),
                        ('pin_locked_until', models.DateTimeField(blank=True, null=True)),
                        ('locations', models.ManyToManyField(blank=True, related_name='staff', to='inventory.location')),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='staff', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'inventory_staffprofile',
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
