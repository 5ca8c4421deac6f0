"""Serializer fields shared by the app APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.utils import Direction, extend_schema_serializer
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
        """Set the validator that also becomes the schema's ``pattern``.

        Args:
            not_blank: require a character that is not white space (else only NUL is refused).
            **kwargs: DRF ``CharField`` options; ``validators`` given here replace the default one.
        """
        kwargs.setdefault("validators", [NOT_BLANK if not_blank else NO_NUL])
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        """Accept only a JSON string; anything else fails with ``invalid`` ("Not a valid string.")."""
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictTokenObtainSerializer(TokenObtainPairSerializer):
    """simplejwt's sign-in, with credentials taken as given: strings, no NUL, white space not trimmed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Replace simplejwt's email and password fields with strict, untrimmed ones (arguments as for a serializer)."""
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = StrictCharField(write_only=True, trim_whitespace=False)
        self.fields["password"] = StrictCharField(
            write_only=True, trim_whitespace=False, style={"input_type": "password"}
        )


# drf-spectacular publishes a serializer's docstring as its schema description: the token serializers' docstrings
# are for developers, so their request bodies keep no description (``description=""``), as in docs/openapi.yaml.
@extend_schema_serializer(description="")
class StrictTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's rotating refresh, refusing (401, never 500) a token of a deleted, inactive or re-passworded user.

    simplejwt looks the user up with ``.get()``: a deleted user's token raised ``DoesNotExist``. Refresh tokens carry
    the password-hash claim (``CHECK_REVOKE_TOKEN``), checked here too: a password change revokes them wherever it
    happens (admin, ``changepassword``).
    """

    refresh = StrictCharField(trim_whitespace=False)

    default_error_messages = {
        "no_active_account": "No active account found for the given token.",
        "password_changed": "The token was revoked by a password change.",
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        """Check that the token's user still exists, is active and has not changed password, then rotate it.

        Args:
            attrs: the validated input (``refresh``).

        Returns:
            The new ``access`` and ``refresh`` tokens; ``self.user`` is set for the audit row.

        Raises:
            TokenError: the token is malformed, expired or blacklisted (the view answers 401).
            AuthenticationFailed: no active user for the token, or a password change revoked it (401).
        """
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
        """Refuse the refresh with a 401 in simplejwt's own error shape, rendered as ``detail: {"reason": key}``.

        Raises:
            AuthenticationFailed: always, with the message of ``key`` from ``default_error_messages``.
        """
        raise AuthenticationFailed({"detail": self.error_messages[key], "code": key})


@extend_schema_serializer(description="")  # a developer's docstring, not the schema's (see above)
class StrictTokenBlacklistSerializer(TokenBlacklistSerializer):
    """simplejwt's sign-out (the refresh token is blacklisted), the token taken as a strict, untrimmed string."""

    refresh = StrictCharField(write_only=True, trim_whitespace=False)


@extend_schema_serializer(description="")  # a developer's docstring, not the schema's (see above)
class StrictTokenVerifySerializer(TokenVerifySerializer):
    """simplejwt's token check (access or refresh), the token taken as a strict, untrimmed string."""

    token = StrictCharField(write_only=True, trim_whitespace=False)


class RejectUnknownFieldsMixin:
    """Refuse input fields the serializer does not declare: a typo such as ``sesion_id`` is an error, not ignored.

    The schema says so too: the request bodies of these serializers have ``additionalProperties: false``. This
    docstring is not a schema description: the extension below drops it from serializers that have none of their own.
    """

    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        """Refuse undeclared keys of a JSON object, then validate as the serializer this is mixed into does.

        Raises:
            ValidationError: ``{field: ["Unknown field."]}`` for every key the serializer does not declare.
        """
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
        if schema.get("description") == get_doc(RejectUnknownFieldsMixin):  # inherited from the mixin, not the body's
            del schema["description"]
        return schema
