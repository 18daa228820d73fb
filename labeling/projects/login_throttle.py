"""The sign-in forms (/accounts/login/ and /admin/login/) are throttled like POST /api/auth/token/:
per username and per client address, at the same rates (LONGTAIL_TOKEN_RATE_USER / _IP) and in the
same cache entries, so that a password guess counts the same wherever it is made. A refused attempt
checks no password and answers 429 with the form page, a message saying how long to wait and a
Retry-After header.

The check sits in the forms' clean(), where Django checks the password, so that both views refuse the
same way; answers_429_when_throttled gives the refused page its status.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import wraps

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from .token_api import TokenIpThrottle, TokenUserThrottle


@dataclass(frozen=True)
class SignInRefusal:
    message: str
    retry_after: int  # seconds


class _SubmittedUsernameThrottle(TokenUserThrottle):
    """TokenUserThrottle (same scope, same keys) for a username that came in a form."""

    def __init__(self, username):
        super().__init__()
        self.username = username

    def get_cache_key(self, request, view):
        return self.key_for_username(self.username)


def _refusal(throttle, whose: str) -> SignInRefusal:
    wait = throttle.wait()
    seconds = max(1, math.ceil(wait if wait is not None else throttle.duration))
    return SignInRefusal(f"Too many sign-in attempts {whose}; try again in {seconds} seconds.", seconds)


def sign_in_refusal(request, username) -> SignInRefusal | None:
    """Counts one sign-in attempt against the address and the username, as the token endpoint does
    (a refused attempt is not counted); None when the password may be checked."""
    address, account = TokenIpThrottle(), _SubmittedUsernameThrottle(username)
    refusals = []
    # Both are asked, as DRF asks every throttle of a view: an allowed attempt counts in each.
    if not address.allow_request(request, None):
        refusals.append(_refusal(address, "from this address"))
    if not account.allow_request(request, None):
        refusals.append(_refusal(account, "for this account"))
    return max(refusals, key=lambda refusal: refusal.retry_after, default=None)


class ThrottledSignInMixin:
    """For an AuthenticationForm: refuses before the password is checked when the throttle says so;
    ``refusal`` keeps why, for the page's status."""

    refusal: SignInRefusal | None = None

    def clean(self):
        self.refusal = sign_in_refusal(self.request, self.cleaned_data.get("username"))
        if self.refusal is not None:
            raise ValidationError(self.refusal.message, code="throttled")
        return super().clean()


class ThrottledAuthenticationForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass


def answers_429_when_throttled(login_view):
    """Wraps a login view whose form is a ThrottledSignInMixin: a refused attempt's page answers 429
    with Retry-After (the form page itself, with the message, as for a wrong password)."""

    @wraps(login_view)
    def view(request, *args, **kwargs):
        response = login_view(request, *args, **kwargs)
        form = (getattr(response, "context_data", None) or {}).get("form")
        refusal = getattr(form, "refusal", None)
        if refusal is not None:
            response.status_code = 429
            response["Retry-After"] = str(refusal.retry_after)
        return response

    return view
