"""Serializer fields shared by the app APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import (
    TokenBlacklistSerializer,
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

NO_NUL = RegexValidator(r"^[^\x00]+$", "Null characters are not allowed.")
"""What every text field refuses anyway (PostgreSQL cannot store NUL), as a pattern the schema shows.

``+``, not ``*``: a blank-allowed field is documented as ``oneOf: [pattern, maxLength 0]``, which must not both match.
"""

# White space as str.strip() sees it, spelled out: ``\s`` differs between Python and the ECMA regex of JSON Schema.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = RegexValidator(
    rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$", "This field may not be blank or contain null characters."
)
"""Some character that is not white space, and no NUL."""


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: ``0`` or ``true`` are refused, not turned into ``"0"`` or ``"True"``.

    Pass ``not_blank=True`` for a text that must hold more than white space; the schema states either rule as a
    ``pattern``.
    """

    default_error_messages = {"invalid": "Not a valid string."}

    def __init__(self, *, not_blank: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [NOT_BLANK if not_blank else NO_NUL])
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictTokenObtainSerializer(TokenObtainPairSerializer):
    """simplejwt's sign-in, with credentials taken as given: strings, no NUL, white space not trimmed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = StrictCharField(write_only=True, trim_whitespace=False)
        self.fields["password"] = StrictCharField(
            write_only=True, trim_whitespace=False, style={"input_type": "password"}
        )


class StrictTokenRefreshSerializer(TokenRefreshSerializer):
    # simplejwt's refresh with rotation, refusing (401, never 500) a token of a deleted, inactive or re-passworded
    # user. simplejwt looks the user up with .get(): a deleted user's token raised DoesNotExist. Refresh tokens carry
    # the password-hash claim (CHECK_REVOKE_TOKEN), checked here too: a password change revokes them wherever it
    # happens (admin, changepassword). (A comment, not a docstring: the schema would show it.)

    refresh = StrictCharField(trim_whitespace=False)

    default_error_messages = {
        "no_active_account": "No active account found for the given token.",
        "password_changed": "The token was revoked by a password change.",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])  # TokenError: 401 in the view
        user_model = get_user_model()
        user = user_model.objects.filter(
            **{jwt_settings.USER_ID_FIELD: refresh.get(jwt_settings.USER_ID_CLAIM)}
        ).first()
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            self.fail_authentication("no_active_account")
        assert user is not None
        claim = jwt_settings.REVOKE_TOKEN_CLAIM
        if jwt_settings.CHECK_REVOKE_TOKEN and refresh.get(claim) != get_md5_hash_password(user.password):
            self.fail_authentication("password_changed")
        try:
            data = super().validate(attrs)
        except user_model.DoesNotExist:  # deleted in between
            self.fail_authentication("no_active_account")
        self.user = user
        return data

    def fail_authentication(self, key: str) -> NoReturn:
        # the shape of simplejwt's own token errors: rendered as detail {"reason": key} (docintel.api.exceptions)
        raise AuthenticationFailed({"detail": self.error_messages[key], "code": key})


class StrictTokenBlacklistSerializer(TokenBlacklistSerializer):
    refresh = StrictCharField(write_only=True, trim_whitespace=False)


class StrictTokenVerifySerializer(TokenVerifySerializer):
    token = StrictCharField(write_only=True, trim_whitespace=False)


class RejectUnknownFieldsMixin:
    # Refuse input fields the serializer does not declare (a typo such as ``sesion_id`` is an error, not ignored);
    # the schema says so too: the request bodies of these serializers have ``additionalProperties: false``.
    # (A comment, not a docstring: the schema would show it as the description of every such serializer.)

    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]  # the serializer class this is mixed into


class _RejectUnknownFieldsExtension(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]  # drf-spectacular registers extensions in an untyped __init_subclass__
    target_class = RejectUnknownFieldsMixin
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(  # type: ignore[no-untyped-call]  # untyped in drf-spectacular
            self.target, direction, bypass_extensions=True
        )
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
