import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a first superuser when there is no user yet (name and password from the environment)."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.exists():
            return
        username = os.environ.get("HFD_ADMIN_USER", "admin")
        password = os.environ.get("HFD_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username, "", password)
        shown = password if "HFD_ADMIN_PASSWORD" not in os.environ else "(from HFD_ADMIN_PASSWORD)"
        self.stdout.write(self.style.SUCCESS(f"Created the first user: {username} / {shown}"))
        self.stdout.write("Change the password in the admin after logging in.")
