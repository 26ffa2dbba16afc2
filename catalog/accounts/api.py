"""/api/v1/tokens/: a user's personal API tokens. The key is in the answer to POST, and nowhere else."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from catalog.accounts.models import ApiToken

MAX_TOKEN_DAYS = 3650


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "created", "expiry"]
        read_only_fields = fields


class NewTokenSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for, e.g. 'laptop' or 'CI'.")
    expires_in_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=MAX_TOKEN_DAYS,
        help_text="Days until the token stops working. Empty or null: it works until revoked.",
    )

    def validate_name(self, value):
        if "\x00" in value:
            raise serializers.ValidationError("The name may not contain NUL characters.")
        return value.strip() or "token"


class CreatedTokenSerializer(TokenSerializer):
    key = serializers.CharField(read_only=True, help_text="The token. Shown this once; only its hash is kept.")

    class Meta(TokenSerializer.Meta):
        fields = TokenSerializer.Meta.fields + ["key"]
        read_only_fields = fields


def create_token(user, name, expires_in_days=None):
    """A new token for user: (ApiToken, key). The key is not stored anywhere."""
    expiry = timedelta(days=expires_in_days) if expires_in_days else None
    return ApiToken.objects.create(user=user, expiry=expiry, name=name)


def live_tokens(user):
    """The user's tokens that still work (an expired one is gone for good)."""
    return ApiToken.objects.filter(user=user).filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))


@extend_schema_view(
    list=extend_schema(summary="Your API tokens, without their keys"),
    destroy=extend_schema(summary="Revoke one of your API tokens", responses={204: None, 404: OpenApiResponse()}),
)
class TokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = TokenSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular building the schema
            return ApiToken.objects.none()
        return live_tokens(self.request.user)

    @extend_schema(
        summary="Create an API token; its key is in this answer only",
        request=NewTokenSerializer,
        responses={201: CreatedTokenSerializer, 400: OpenApiResponse(), 403: OpenApiResponse()},
    )
    def create(self, request):
        if isinstance(request.auth, ApiToken):
            # A leaked token must not be able to mint more: new tokens need the password or the session.
            raise PermissionDenied("Create tokens while signed in with your password (web page, session or Basic).")
        form = NewTokenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, key = create_token(request.user, form.validated_data["name"], form.validated_data["expires_in_days"])
        body = CreatedTokenSerializer(token).data
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)
