"""IdempotencyRecord moved to the core app with its table (core 0001 takes it over)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0002_line_price_shares_and_merged_status'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are (the models keep them with Meta.db_table): state only.
            state_operations=[
                migrations.DeleteModel(
                    name='IdempotencyRecord',
                ),
            ],
            database_operations=[],
        ),
    ]
