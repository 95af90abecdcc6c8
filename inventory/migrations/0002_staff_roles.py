"""Create the four staff roles. Their permissions are granted after every migrate (staff.roles)."""

from django.db import migrations

from staff.roles import create_groups


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["Manager", "Cashier", "Waiter", "Kitchen"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
