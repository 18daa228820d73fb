"""/api/auth/token/: POST trades a username and password for the user's token and its expiry;
DELETE revokes the caller's token. POST is throttled per username and per client address
(LONGTAIL_TOKEN_RATE_USER / LONGTAIL_TOKEN_RATE_IP), so that passwords cannot be guessed at speed;
the sign-in forms count in the same throttles (labeling.projects.login_throttle).

Throttle counts live in Django's cache: Redis when REDIS_URL is set, so that every web worker counts
together. Each attempt is checked and counted in one step (throttles.AtomicRateThrottle), so guesses
sent at once cannot all pass on the same count. When the cache cannot be reached the request is let
through (and logged): an outage of Redis must not lock every API user out.
"""
from __future__ import annotations

import hashlib
import logging
import unicodedata

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings

from labeling.items.values import string_problem

from .auth import issued_under_current_password, token_expires_at
from .schema import VALIDATION_ERROR
from .throttles import AtomicRateThrottle, LiveRateThrottle

logger = logging.getLogger(__name__)


class _TokenThrottle(LiveRateThrottle, AtomicRateThrottle):
    """Rates read when a request comes; each attempt counted atomically, across web workers; an
    unreachable cache lets the request through."""


class TokenUserThrottle(_TokenThrottle):
    """Attempts per username, from anywhere: a password guessed from many addresses."""

    scope = "token_user"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        return self.key_for_username(username)

    def key_for_username(self, username) -> str | None:
        if not isinstance(username, str) or not username.strip():
            return None  # nothing to guess against; the IP throttle still counts it
        # NFKC as Django's sign-in form normalises usernames, so that the form and the API count one
        # name together. Hashed: any text may come as a username, and a cache key must stay plain.
        name = unicodedata.normalize("NFKC", username).strip().lower()
        ident = hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class TokenIpThrottle(_TokenThrottle):
    """Attempts per client address: many usernames tried from one place. DRF's get_ident: the
    REMOTE_ADDR, or the address NUM_PROXIES back in X-Forwarded-For."""

    scope = "token_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(help_text="After this the token gets 401; ask for a new one.")


def _revoking(view) -> bool:
    # Before dispatch, view.request is Django's request (View.setup); while the schema is built, a mock.
    return getattr(getattr(view, "request", None), "method", None) == "DELETE"


def _lock_user_named(data) -> None:
    """Lock the row of the user the request names (FOR UPDATE, to the transaction's end), if any.
    A username PostgreSQL cannot take as text (a NUL, a lone surrogate) names no user and locks
    nothing: the query would fail (a 500), and the serializer refuses it on ``username`` (400)."""
    username = data.get("username") if hasattr(data, "get") else None
    if isinstance(username, str) and username and string_problem(username) is None:
        User = get_user_model()
        list(User._default_manager.select_for_update().filter(**{User.USERNAME_FIELD: username}).values_list("pk"))


class ApiTokenView(ObtainAuthToken):
    """/api/auth/token/: POST hands out the user's token, DELETE revokes the caller's."""

    # POST takes no credentials but the password (so no CSRF check applies) and is throttled; DELETE
    # needs the caller signed in (token, or session with its CSRF token) and is not throttled: it
    # guesses nothing. Properties, not class lists, so that the schema documents each method's answers.
    @property
    def authentication_classes(self):
        return api_settings.DEFAULT_AUTHENTICATION_CLASSES if _revoking(self) else []

    @property
    def permission_classes(self):
        return [IsAuthenticated] if _revoking(self) else []

    @property
    def throttle_classes(self):
        return [] if _revoking(self) else [TokenIpThrottle, TokenUserThrottle]

    @extend_schema(
        operation_id="auth_token_create", request=AuthTokenSerializer, auth=[],
        responses={200: TokenResponseSerializer,
                   400: OpenApiResponse(VALIDATION_ERROR, description="Wrong username or password, or a field missing.")},
        summary="Get an API token (throttled; tokens expire after LONGTAIL_TOKEN_TTL_HOURS)",
        description="Username and password in, the user's token and when it expires out. An expired token is "
                    "replaced by a new one, as is one issued under an older password. A token also ends when its "
                    "user's password changes (however it is changed), and when DELETE revokes it. Attempts count "
                    "per username and per client address, together with the sign-in forms'; past the limit the "
                    "answer is 429 with Retry-After.",
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        with transaction.atomic():
            # One token request per user at a time, sign-in included: a sign-in that upgrades the
            # password's hash (a new hasher or iteration count) writes a new hash, and two at once each
            # wrote their own, so one stamped its token with a hash the other replaced (a dead token, 200).
            _lock_user_named(request.data)
            serializer.is_valid(raise_exception=True)
            user = serializer.validated_data["user"]
            token, _ = Token.objects.select_for_update().get_or_create(user=user)
            token.user = user  # the user just authenticated (under the lock): the stamp check reads no row again
            # One issued under an older password (written where no receiver saw it) no longer authenticates.
            if token_expires_at(token) <= timezone.now() or not issued_under_current_password(token):
                token.delete()
                token = Token.objects.create(user=user)
        return Response({"token": token.key, "expires_at": token_expires_at(token)})

    @extend_schema(
        operation_id="auth_token_destroy", request=None,
        responses={204: OpenApiResponse(description="The caller's token is revoked (also when there was none); "
                                                    "POST hands out a new one.")},
        summary="Revoke the caller's API token",
        description="The token that signed this request (or the signed-in user's) stops working at once.",
    )
    def delete(self, request, *args, **kwargs):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
