"""Any change to a membership, by a service or the admin, invalidates the user's cached scope."""

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Membership, User
from .scoping import forget_cached_scope


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def membership_changed(sender, instance: Membership, **kwargs) -> None:
    User.objects.filter(pk=instance.user_id).update(scope_version=F("scope_version") + 1)
    if Membership.user.is_cached(instance):
        user = instance.user
        user.scope_version = User.objects.values_list("scope_version", flat=True).get(pk=user.pk)
        forget_cached_scope(user)
