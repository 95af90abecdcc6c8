"""Who may act where: the locations a person or API client works at, and the accounts a manager manages.

`Location` belongs to inventory, a floor above; it is reached through StaffProfile's relation, never imported.
"""

from django.db.models import QuerySet

from staff.models import StaffProfile
from staff.roles import ROLE_RANKS, is_manager


def location_model():
    """inventory.Location, the model of StaffProfile.locations."""
    return StaffProfile._meta.get_field("locations").related_model


def locations_for(user) -> QuerySet:
    """The locations a user may see and act at: managers every location, other staff those on their profile, an
    API client's service user (signed in by its token) the client's locations whatever its role."""
    client = getattr(user, "acting_api_client", None)
    if client is not None:
        return location_model().objects.filter(api_clients=client)
    if is_manager(user):
        return location_model().objects.all()
    if not user.is_authenticated:
        return location_model().objects.none()
    return location_model().objects.filter(staff__user=user)


def own_stores(user) -> QuerySet:
    """The locations on `user`'s staff profile. For a manager that is narrower than `locations_for` (where a manager
    acts everywhere): it bounds whose accounts they manage in the user admin."""
    return location_model().objects.filter(staff__user=user)


def assignable_groups(actor):
    """The groups `actor` may give in the user admin: every group for a superuser; otherwise the roles ranked at or
    below the highest role `actor` holds (a manager gives any role; never a group outside the roles)."""
    from django.contrib.auth.models import Group

    if actor.is_superuser:
        return Group.objects.all()
    held = actor.groups.values_list("name", flat=True)
    top = max((ROLE_RANKS.get(name, 0) for name in held), default=0)
    return Group.objects.filter(name__in=[role for role, rank in ROLE_RANKS.items() if 0 < rank <= top])


def _roles_below(actor) -> list[str]:
    held = actor.groups.values_list("name", flat=True)
    top = max((ROLE_RANKS.get(name, 0) for name in held), default=0)
    return [role for role, rank in ROLE_RANKS.items() if 0 < rank < top]


def manageable_users(actor):
    """The accounts `actor` may see and edit in the user admin: all for a superuser; otherwise staff who are not
    superusers, have no permissions of their own, hold only roles ranked strictly below `actor`'s highest (never a
    peer manager, nor `actor` themselves), and work only at `actor`'s own stores (at least one of them)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    if actor.is_superuser:
        return User.objects.all()
    mine = own_stores(actor)
    return (
        User.objects.filter(is_superuser=False, staff__locations__in=mine)
        .exclude(staff__locations__in=location_model().objects.exclude(pk__in=mine))
        .exclude(groups__in=Group.objects.exclude(name__in=_roles_below(actor)))
        .exclude(user_permissions__isnull=False)
        .distinct()
    )


def works_everywhere(user) -> bool:
    """A manager on staff acts at every location; an API client never beyond its own (see locations_for)."""
    return is_manager(user) and getattr(user, "acting_api_client", None) is None
