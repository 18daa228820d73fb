"""POST /api/auth/token/: username and password in, the user's token and its expiry out. Throttled
per username and per client address (LONGTAIL_TOKEN_RATE_USER / LONGTAIL_TOKEN_RATE_IP), so that
passwords cannot be guessed at speed.

Throttle counts live in Django's cache: Redis when REDIS_URL is set, so that every web worker counts
together. When the cache cannot be reached the request is let through (and logged): an outage of
Redis must not lock every API user out.
"""
from __future__ import annotations

import hashlib
import logging

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from redis.exceptions import RedisError
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .auth import token_expires_at
from .schema import VALIDATION_ERROR

logger = logging.getLogger(__name__)


class _TokenThrottle(SimpleRateThrottle):
    """Rates are read when a request comes (DRF binds them at import time), and a cache that cannot
    be reached lets the request through."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("token throttle skipped, the cache is unreachable: %s", exc)
            return True


class TokenUserThrottle(_TokenThrottle):
    """Attempts per username, from anywhere: a password guessed from many addresses."""

    scope = "token_user"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None  # nothing to guess against; the IP throttle still counts it
        # Hashed: any text may come as a username, and a cache key must stay short and plain.
        ident = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class TokenIpThrottle(_TokenThrottle):
    """Attempts per client address: many usernames tried from one place."""

    scope = "token_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(help_text="After this the token gets 401; ask for a new one.")


class ObtainExpiringToken(ObtainAuthToken):
    """Username and password in, the user's token and when it expires out. An expired token is
    replaced by a new one."""

    throttle_classes = [TokenIpThrottle, TokenUserThrottle]
    authentication_classes = []  # the password is the credential (and no CSRF check applies)

    @extend_schema(
        operation_id="auth_token_create", request=AuthTokenSerializer, auth=[],
        responses={200: TokenResponseSerializer,
                   400: OpenApiResponse(VALIDATION_ERROR, description="Wrong username or password, or a field missing.")},
        summary="Get an API token (throttled; tokens expire after LONGTAIL_TOKEN_TTL_HOURS)",
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        with transaction.atomic():
            token, _ = Token.objects.select_for_update().get_or_create(user=user)
            if token_expires_at(token) <= timezone.now():
                token.delete()
                token = Token.objects.create(user=user)
        return Response({"token": token.key, "expires_at": token_expires_at(token)})
