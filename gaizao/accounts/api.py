from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from gaizao.core.api import ErrorSerializer
from gaizao.core.errors import ErrorCode, ServiceError

from .scoping import scope_for
from .services import sign_in


class TokenInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class TokenObtainApi(APIView):
    """Exchange a username and password for an API token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=TokenInputSerializer,
        responses={200: inline_serializer("TokenOutput", {"token": serializers.CharField()}),
                   400: ErrorSerializer, 429: ErrorSerializer},
    )
    def post(self, request):
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = sign_in(request=request, **data.validated_data)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MembershipOutputSerializer(serializers.Serializer):
    role = serializers.CharField()
    region = serializers.CharField()


class MeOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField()
    is_province_admin = serializers.BooleanField()
    memberships = MembershipOutputSerializer(many=True)
    region_prefixes = serializers.ListField(child=serializers.CharField())


class MeApi(APIView):
    """Who the caller is, their roles and the region codes they can see."""

    @extend_schema(responses={200: MeOutputSerializer})
    def get(self, request):
        scope = scope_for(request.user)
        if scope.user_id is None:
            raise ServiceError(ErrorCode.NOT_AUTHENTICATED, _("Sign in first."), status=401)
        data = {
            "username": request.user.username,
            "display_name": request.user.display_name,
            "is_province_admin": scope.is_province_admin,
            "memberships": [{"role": role, "region": code} for role, code in scope.memberships],
            "region_prefixes": list(scope.prefixes("view")),
        }
        return Response(MeOutputSerializer(data).data)
