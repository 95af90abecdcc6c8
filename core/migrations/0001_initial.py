"""IdempotencyRecord, taken over from orders with its table and rows (state only)."""

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
    _move_content_types(apps, "orders", "core", ['idempotencyrecord'])


def backwards(apps, schema_editor):
    _move_content_types(apps, "core", "orders", ['idempotencyrecord'])


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("orders", "0003_move_idempotency_record_to_core"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are (the models keep them with Meta.db_table): state only.
            state_operations=[
                migrations.CreateModel(
                    name='IdempotencyRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('scope', models.CharField(max_length=64)),
                        ('key', models.CharField(max_length=128)),
                        ('endpoint', models.CharField(max_length=64)),
                        ('request_hash', models.CharField(max_length=64)),
                        ('response_status', models.PositiveSmallIntegerField(null=True)),
                        ('response_body', models.JSONField(null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                    ],
                    options={
                        'db_table': 'orders_idempotencyrecord',
                        'constraints': [models.UniqueConstraint(fields=('scope', 'key'), name='idempotency_scope_key_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
