"""Personal Hugging Face tokens: stored encrypted, never shown again, used only by downloads.

The token is encrypted with Fernet (the `cryptography` package: AES-128-CBC with HMAC-SHA256)
under the keys in HFD_HUB_TOKEN_KEYS. The first key encrypts; every key decrypts, so a key can
be rotated by putting a new one first. Without keys, personal tokens cannot be stored and
everyone's downloads use the site-wide HF_TOKEN.

The clear token leaves this module only for catalog.hub, in the worker, at the moment of a
request: never in API output, pages, logs, error messages, task arguments or the queue (the task
gets the dataset id, and the worker reads the owner's token from the database).
"""

import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from catalog.accounts.models import PersonalHubToken

logger = logging.getLogger(__name__)

# What a stored token is replaced with in any text shown to people.
REDACTED = "<hub token>"


class HubTokenUnavailable(Exception):
    """No key is configured, or the stored token cannot be decrypted with the configured keys."""


def storing_enabled():
    return bool(settings.HFD_HUB_TOKEN_KEYS)


def _cipher():
    if not storing_enabled():
        raise HubTokenUnavailable("Personal Hub tokens are switched off: the server has no HFD_HUB_TOKEN_KEYS.")
    return MultiFernet([Fernet(key) for key in settings.HFD_HUB_TOKEN_KEYS])


def has_token(user):
    return bool(user and user.is_authenticated) and PersonalHubToken.objects.filter(user=user).exists()


def store(user, token):
    """Encrypt and keep the user's Hub token, replacing any earlier one."""
    encrypted = _cipher().encrypt(token.encode()).decode()
    PersonalHubToken.objects.update_or_create(user=user, defaults={"encrypted": encrypted})


def remove(user):
    PersonalHubToken.objects.filter(user=user).delete()


def token_of(user_id):
    """The clear token of this user, or None if they have none. For catalog.hub requests only."""
    stored = PersonalHubToken.objects.filter(user_id=user_id).values_list("encrypted", flat=True).first()
    if stored is None:
        return None
    try:
        return _cipher().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise HubTokenUnavailable(
            "The owner's personal Hub token cannot be decrypted with the server's HFD_HUB_TOKEN_KEYS; "
            "the owner should store it again."
        ) from None


def token_for_lookup(user):
    """The user's token for an interactive Hub lookup (download form, /api/v1/hub/), or None.

    A token that cannot be decrypted counts as none here (the lookup uses HF_TOKEN); the
    download itself then fails with a message saying to store the token again.
    """
    if not (user and user.is_authenticated):
        return None
    try:
        return token_of(user.pk)
    except HubTokenUnavailable:
        logger.warning("The Hub token of user %s cannot be decrypted with HFD_HUB_TOKEN_KEYS", user.pk)
        return None


def token_for_dataset(dataset):
    """The token a download of this dataset uses: its owner's for a personal dataset, else None (site HF_TOKEN)."""
    if not dataset.personal:
        return None
    token = token_of(dataset.owner_id) if dataset.owner_id else None
    if token is None:
        raise HubTokenUnavailable(
            "This dataset was asked for with a personal Hub token that has since been removed; "
            "store a token again and retry, or download it anew without one."
        )
    return token


def redact(text, token):
    """Text with the clear token replaced, for errors that might quote a request."""
    if text and token:
        return text.replace(token, REDACTED)
    return text
