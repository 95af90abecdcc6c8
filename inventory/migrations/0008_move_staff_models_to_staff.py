"""StaffProfile, AuditEvent and ApiClient moved to the staff app with their tables (staff 0001 takes them over)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0007_store_money_caps_and_quantity_places'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are (the models keep them with Meta.db_table): state only.
            state_operations=[
                migrations.RemoveField(
                    model_name='auditevent',
                    name='actor',
                ),
                migrations.RemoveField(
                    model_name='auditevent',
                    name='approver',
                ),
                migrations.RemoveField(
                    model_name='auditevent',
                    name='location',
                ),
                migrations.RemoveField(
                    model_name='staffprofile',
                    name='locations',
                ),
                migrations.RemoveField(
                    model_name='staffprofile',
                    name='user',
                ),
                migrations.DeleteModel(
                    name='ApiClient',
                ),
                migrations.DeleteModel(
                    name='AuditEvent',
                ),
                migrations.DeleteModel(
                    name='StaffProfile',
                ),
            ],
            database_operations=[],
        ),
    ]
