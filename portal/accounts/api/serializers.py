"""User, current-user and personal-token representations."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.accounts.models import AuthSource, AuthSourceKind, PersonalToken, User
from portal.rbac.roles import DEFAULT_TOKEN_SCOPES, TokenScope
from portal.utilities.serializers import StrictModelSerializer, StrictSerializer


class UnsetAsNullEmailField(serializers.EmailField):
    """An address that may be unset: shown as null, since "" is no address and breaks `format: email`."""

    def to_representation(self, value: str) -> str | None:
        return value or None


class UserSerializer(StrictModelSerializer):
    email = UnsetAsNullEmailField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(source="date_joined", read_only=True)
    source = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True,
                                          help_text="The authentication source the user came from; null: a local account.")

    class Meta:
        model = User
        fields = ["id", "username", "email", "display_name", "comment", "is_admin", "is_active", "source",
                  "source_active", "created_at", "updated_at", "last_login", "password_changed_at"]
        read_only_fields = fields


class UserCreateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    display_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    comment = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")
    is_admin = serializers.BooleanField(required=False, default=False)


class UserUpdateSerializer(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    display_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    comment = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    is_admin = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class PasswordResetSerializer(StrictSerializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)


class CurrentUserUpdateSerializer(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    display_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    comment = serializers.CharField(max_length=1024, required=False, allow_blank=True)


class PasswordChangeSerializer(StrictSerializer):
    old_password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)


class UserSearchResultSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)


class UserSearchQuerySerializer(StrictSerializer):
    q = serializers.CharField(min_length=1, max_length=150)


class SystemCapabilitiesSerializer(serializers.Serializer):
    is_admin = serializers.BooleanField()
    can_create_project = serializers.BooleanField()
    can_manage_users = serializers.BooleanField()
    can_search_users = serializers.BooleanField()
    can_manage_robots = serializers.BooleanField()
    can_read_audit_log = serializers.BooleanField()
    can_manage_configuration = serializers.BooleanField()


class ProjectPermissionsSerializer(serializers.Serializer):
    role = serializers.CharField(allow_null=True)
    permissions = serializers.ListField(child=serializers.CharField(), help_text="`resource:action` pairs")


class CurrentPermissionsSerializer(serializers.Serializer):
    system = SystemCapabilitiesSerializer()
    projects = serializers.DictField(child=ProjectPermissionsSerializer(), help_text="keyed by project name")


class TokenSerializer(StrictModelSerializer):
    scopes = serializers.SerializerMethodField()
    expired = serializers.SerializerMethodField()

    class Meta:
        model = PersonalToken
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "expired"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=[s.value for s in TokenScope])))
    def get_scopes(self, token: PersonalToken) -> list[str]:
        return sorted(str(scope) for scope in token.scope_set())

    def get_expired(self, token: PersonalToken) -> bool:
        return not token.is_usable()


class TokenCreatedSerializer(TokenSerializer):
    secret = serializers.SerializerMethodField(help_text="Shown only in this response; only its hash is kept.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, token: PersonalToken) -> str:
        return str(self.context["secret"])


def _default_token_days() -> int:
    return int(settings.TOKEN_DEFAULT_DAYS)


class TokenCreateSerializer(StrictSerializer):
    name = serializers.RegexField(r"^[\w.@ -]{1,100}$", max_length=100,
                                  error_messages={"invalid": "1 to 100 letters, digits, spaces or . _ - @"})
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, default=_default_token_days,
        help_text="Days until the token expires; null for never, when an administrator allows it.",
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=[scope.value for scope in TokenScope]),
        min_length=1, required=False, default=lambda: [str(scope) for scope in DEFAULT_TOKEN_SCOPES],
        help_text="What the token may be used for; registry:write (docker login, push and pull) when not given. "
                  "registry:write includes registry:read; api:credentials includes api:write, which includes api:read.",
    )


class AuthSourceSerializer(StrictModelSerializer):
    secret_set = serializers.SerializerMethodField(help_text="Whether a bind password (or client secret) is stored; it is never returned.")

    class Meta:
        model = AuthSource
        fields = ["id", "kind", "name", "enabled", "priority", "settings", "secret_set", "created_at", "updated_at"]
        read_only_fields = fields

    def get_secret_set(self, source: AuthSource) -> bool:
        return bool(source.encrypted_secret)


class AuthSourceCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=AuthSourceKind.values)
    name = serializers.CharField(max_length=50)
    enabled = serializers.BooleanField(default=True)
    priority = serializers.IntegerField(min_value=0, max_value=10000, default=100)
    settings = serializers.DictField(help_text="LDAP: urls, start_tls, ca_certificate, bind_dn, user_search_base, "
                                               "user_search_filter, uid_attribute, display_name_attribute, email_attribute, "
                                               "group_search_base, group_search_filter, membership_attribute, admin_group, timeout_seconds.")
    secret = serializers.CharField(required=False, allow_blank=True, default="", write_only=True,
                                   help_text="The LDAP bind password; stored encrypted.")


class AuthSourceUpdateSerializer(StrictSerializer):
    enabled = serializers.BooleanField(required=False)
    priority = serializers.IntegerField(min_value=0, max_value=10000, required=False)
    settings = serializers.DictField(required=False)
    secret = serializers.CharField(required=False, allow_blank=True, write_only=True,
                                   help_text="A new bind password; empty or absent keeps the stored one.")


class AuthSourceTestSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)


class AuthSourceTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Whether the directory answered with these settings.")
    error = serializers.CharField()
    found = serializers.BooleanField()
    dn = serializers.CharField()
    display_name = serializers.CharField()
    email = serializers.CharField()
    groups = serializers.ListField(child=serializers.CharField())
    is_admin = serializers.BooleanField()
