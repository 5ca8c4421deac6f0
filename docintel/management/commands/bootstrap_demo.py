from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from docintel.services import demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo librarian and reader (development only) and print their credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("bootstrap_demo creates well-known passwords; it runs only with DEBUG on.")
        accounts = demo_users_ensure()
        self.stdout.write(self.style.SUCCESS("Demo accounts (development only):"))
        for account in accounts:
            self.stdout.write(f"  {account.role:<10} {account.email:<28} password: {account.password}")
