"""Per-user credentials: personal API tokens and the personal Hugging Face token."""

from django.conf import settings
from django.db import models
from knox.models import AbstractAuthToken


class ApiToken(AbstractAuthToken):
    """A personal API token (django-rest-knox). Only a SHA-512 digest of the key is stored.

    The key is shown once, when the token is created. A user may have several, each named, with
    an optional expiry; knox deletes an expired token when it is next presented.
    """

    # An id to name the token in URLs; knox's own primary key is the digest, which must stay private.
    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.user})"


class PersonalHubToken(models.Model):
    """A user's own Hugging Face token, encrypted with HFD_HUB_TOKEN_KEYS (see catalog.accounts.hub_tokens)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hub_token")
    encrypted = models.TextField(editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Hub token of {self.user}"
