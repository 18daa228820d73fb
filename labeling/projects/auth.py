"""API tokens expire LONGTAIL_TOKEN_TTL_HOURS after they were issued, and end when their user's
password changes (as Django ends the user's sessions); a bad, expired or revoked one gets 401 with a
message. The view that hands them out (throttled) and revokes them is labeling.projects.token_api.

A token ends with its password however the password was written: each key carries a stamp of the
password hash it was issued under (its last STAMP_LENGTH characters: a SHA-256 of the key's random
part and the hash), checked on every request. A new hash (a raw ``update()``, a restored dump, a
hasher upgrade at sign-in) no longer matches, with no receiver involved; the pre_save receiver
below only deletes the rows of the tokens a ``save()`` ends. Every new token is stamped, whoever
makes it (this API, the admin, ``drf_create_token``). Not keyed by SECRET_KEY, so a token made by
a process with another key works all the same; the stamp reveals nothing usable (the hash it
digests holds the password's secret salt). The check reads the user that the authentication
loads anyway: no extra query.

Only what DRF's settings import may live here: importing rest_framework.views from this module
would be circular (DRF imports the authentication classes while it sets up its views).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models.signals import pre_save
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.exceptions import AuthenticationFailed


def token_expires_at(token: Token) -> datetime:
    return token.created + timedelta(hours=settings.LONGTAIL_TOKEN_TTL_HOURS)


KEY_LENGTH = Token._meta.get_field("key").max_length  # 40: 24 random hex characters, then the stamp
STAMP_LENGTH = 16
_STAMP_SALT = "labeling.projects.auth.token-password"


def _password_stamp(user, nonce: str) -> str:
    value = f"{_STAMP_SALT}:{user.pk}:{nonce}:{user.password}"
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:STAMP_LENGTH]


def stamped_key(user) -> str:
    """A new token key for ``user``, stamped with their password hash as it is now."""
    nonce = secrets.token_hex((KEY_LENGTH - STAMP_LENGTH) // 2)
    return nonce + _password_stamp(user, nonce)


def issued_under_current_password(token: Token) -> bool:
    """Whether the token's key was stamped with its user's current password hash."""
    key = token.key or ""
    if len(key) != KEY_LENGTH:
        return False
    nonce, stamp = key[:-STAMP_LENGTH], key[-STAMP_LENGTH:]
    return constant_time_compare(stamp, _password_stamp(token.user, nonce))


PASSWORD_CHANGED = ("The password of this token's user changed after the token was issued, so it no longer "
                    "works; get a new one from POST /api/auth/token/.")


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused once the token is older than LONGTAIL_TOKEN_TTL_HOURS,
    or when its user's password is no longer the one it was issued under (the module's docstring).
    First in DEFAULT_AUTHENTICATION_CLASSES, so that DRF answers 401 with ``WWW-Authenticate: Token``
    (not 403) to a request without valid credentials."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        expires = token_expires_at(token)
        if expires <= timezone.now():
            raise AuthenticationFailed(
                f"The token expired at {expires:%Y-%m-%d %H:%M} UTC; get a new one from POST /api/auth/token/.")
        if not issued_under_current_password(token):
            raise AuthenticationFailed(PASSWORD_CHANGED)
        return user, token


def stamp_new_token(sender, instance, raw=False, **kwargs):
    """Whatever makes a token (this app's API, the admin, drf_create_token, a shell), its key is stamped
    with its user's password hash: a token made elsewhere with an unstamped key would never work."""
    if raw or not instance._state.adding:
        return
    instance.key = stamped_key(instance.user)


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
pre_save.connect(stamp_new_token, sender=Token, dispatch_uid="longtail.stamp_new_token")
# DRF's admin saves tokens through its proxy model, and Django sends pre_save with the proxy as sender
pre_save.connect(stamp_new_token, sender=TokenProxy, dispatch_uid="longtail.stamp_new_token_proxy")
