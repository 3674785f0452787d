"""Base API views whose rows pass through the one scoping function."""

from rest_framework import generics

from gaizao.accounts.scoping import Action, restrict


class ScopedListApi(generics.ListAPIView):
    """A list whose rows pass through the one scoping function."""

    scope_action = Action.VIEW

    def get_queryset(self):
        return restrict(self.base_queryset(), self.request.user, self.scope_action)

    def base_queryset(self):
        raise NotImplementedError


class ScopedDetailApi(generics.RetrieveAPIView):
    scope_action = Action.VIEW

    def get_queryset(self):
        return restrict(self.base_queryset(), self.request.user, self.scope_action)

    def base_queryset(self):
        raise NotImplementedError
