from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "gaizao.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from gaizao.core.audit import register_verbs

        from . import permissions, signals  # noqa: F401  (registers rules and the scope-version signal)

        register_verbs({
            "accounts.membership_grant": _("Role granted"), "accounts.membership_revoke": _("Role revoked"),
            "accounts.organisation_create": _("Organisation created"), "accounts.sign_in": _("Signed in"),
            "accounts.user_create": _("User created"), "accounts.user_set_password": _("Password set"),
        })
