"""``manage.py bootstrap_demo``: the demo librarian and reader of the development mode (``make run``), with roles."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from docintel.services import demo_users_ensure


class Command(BaseCommand):
    """Create or reset the two demo accounts and print their credentials; refuses to run without DEBUG."""

    help = "Create the demo librarian and reader (development only) and print their credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        """Ensure the roles and the demo accounts, then print each account's role, email and password.

        Raises:
            CommandError: DEBUG is off (the passwords are public; they must never exist in production).
        """
        if not settings.DEBUG:
            raise CommandError("bootstrap_demo creates well-known passwords; it runs only with DEBUG on.")
        accounts = demo_users_ensure()
        self.stdout.write(self.style.SUCCESS("Demo accounts (development only):"))
        for account in accounts:
            self.stdout.write(f"  {account.role:<10} {account.email:<28} password: {account.password}")
