"""API tokens expire LONGTAIL_TOKEN_TTL_HOURS after they were issued, and end when their user's
password changes (as Django ends the user's sessions); a bad, expired or revoked one gets 401 with a
message. The view that hands them out (throttled) and revokes them is labeling.projects.token_api.

Only what DRF's settings import may live here: importing rest_framework.views from this module
would be circular (DRF imports the authentication classes while it sets up its views).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models.signals import pre_save
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


def revoke_tokens_on_password_change(sender, instance, raw=False, update_fields=None, **kwargs):
    """A token must not outlive the password it was obtained with: whoever changes a password
    (the admin, ``manage.py changepassword``, a shell) means to shut the old holders out. Any new
    password hash counts, as for Django's sessions (a hasher upgrade at sign-in too)."""
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return  # e.g. last_login at every sign-in: no query
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        Token.objects.filter(user_id=instance.pk).delete()


# Connected when this module is imported: DRF imports it with its settings in the web processes;
# ProjectsConfig.ready() imports it so that every process (manage.py commands, shells) has it.
pre_save.connect(revoke_tokens_on_password_change, sender=settings.AUTH_USER_MODEL,
                 dispatch_uid="longtail.revoke_tokens_on_password_change")
