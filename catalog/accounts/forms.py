"""Forms of the account page: a new API token, the personal Hub token."""

from django import forms

from catalog.accounts.api import MAX_TOKEN_DAYS


class NewTokenForm(forms.Form):
    EXPIRY_CHOICES = [("", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]

    name = forms.CharField(max_length=100, help_text="What it is for, e.g. 'laptop' or 'CI'.")
    expires_in_days = forms.TypedChoiceField(
        label="Expires", choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False
    )

    def clean_expires_in_days(self):
        days = self.cleaned_data["expires_in_days"]
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise forms.ValidationError("Choose one of the offered durations.")
        return days


class HubTokenForm(forms.Form):
    """Write-only: the field is never filled in again, and no error message quotes it."""

    token = forms.CharField(
        label="Hugging Face token",
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="A read token from your Hugging Face settings. It is stored encrypted and never shown again.",
    )

    def clean_token(self):
        token = self.cleaned_data["token"]
        if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
            raise forms.ValidationError("That does not look like a Hugging Face token (letters and digits, no spaces).")
        return token
