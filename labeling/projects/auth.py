"""API tokens expire LONGTAIL_TOKEN_TTL_HOURS after they were issued; a bad or expired one gets 401
with a message. The view that hands them out (throttled) is labeling.projects.token_api.

Only what DRF's settings import may live here: importing rest_framework.views from this module
would be circular (DRF imports the authentication classes while it sets up its views).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_expires_at(token: Token) -> datetime:
    return token.created + timedelta(hours=settings.LONGTAIL_TOKEN_TTL_HOURS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused once the token is older than LONGTAIL_TOKEN_TTL_HOURS.
    First in DEFAULT_AUTHENTICATION_CLASSES, so that DRF answers 401 with ``WWW-Authenticate: Token``
    (not 403) to a request without valid credentials."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        expires = token_expires_at(token)
        if expires <= timezone.now():
            raise AuthenticationFailed(
                f"The token expired at {expires:%Y-%m-%d %H:%M} UTC; get a new one from POST /api/auth/token/.")
        return user, token
