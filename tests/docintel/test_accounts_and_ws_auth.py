"""Sign-in pages, demo accounts, and WebSocket authentication (session or JWT subprotocol)."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from audit.models import AuditLog
from docintel.models import User
from docintel.ws_auth import token_from_subprotocols

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_and_logout_are_audited(client, reader):
    response = client.post("/accounts/login/", {"username": reader.email, "password": "pw-reader-1"})
    assert response.status_code == 302 and response["Location"] == "/chat/"
    assert client.get("/chat/").status_code == 200
    client.post("/accounts/logout/")
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == ["login", "logout"]
    assert client.get("/chat/").status_code == 302


def test_wrong_password_is_refused_without_audit_of_a_login(client, reader):
    response = client.post("/accounts/login/", {"username": reader.email, "password": "nope"})
    assert response.status_code == 200 and "didn" in response.content.decode()
    assert not AuditLog.objects.filter(action="login").exists()


def test_home_sends_anonymous_users_to_sign_in(client):
    assert client.get("/")["Location"] == "/accounts/login/"


def test_bootstrap_demo_creates_a_librarian_and_a_reader(settings, capsys):
    settings.DEBUG = True
    call_command("bootstrap_demo")
    call_command("bootstrap_demo")  # idempotent
    librarian = User.objects.get(email="librarian@docintel.local")
    reader = User.objects.get(email="reader@docintel.local")
    assert librarian.is_librarian and librarian.is_staff and librarian.check_password("librarian-demo-pass")
    assert not reader.is_librarian and not reader.is_staff
    assert "reader-demo-pass" in capsys.readouterr().out


def test_bootstrap_demo_refuses_to_run_in_production(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("bootstrap_demo")


def test_token_is_read_from_the_subprotocols_only_after_bearer():
    assert token_from_subprotocols(["bearer", "abc"]) == "abc"
    assert token_from_subprotocols(["json", "bearer", "t"]) == "t"
    assert token_from_subprotocols(["bearer"]) is None
    assert token_from_subprotocols([]) is None


async def _connect(path: str, subprotocols: list[str] | None = None, headers=None):
    from docintel.asgi import application

    communicator = WebsocketCommunicator(
        application,
        path,
        headers=headers or [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")],
        subprotocols=subprotocols,
    )
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_progress_socket_refuses_anonymous_with_4401():
    communicator, connected = await _connect("/ws/documents/progress/")
    assert connected
    assert (await communicator.receive_output())["code"] == 4401


async def test_progress_socket_refuses_a_reader_with_4403(reader):
    token = str(AccessToken.for_user(reader))
    communicator, connected = await _connect("/ws/documents/progress/", ["bearer", token])
    assert connected
    assert (await communicator.receive_output())["code"] == 4403


async def test_progress_socket_rejects_a_forged_token(librarian):
    communicator, _ = await _connect("/ws/documents/progress/", ["bearer", "not-a-jwt"])
    assert (await communicator.receive_output())["code"] == 4401


async def test_progress_socket_delivers_events_to_a_librarian(librarian):
    from asgiref.sync import sync_to_async

    from documents.events import DocumentProgress, publish_progress

    token = str(AccessToken.for_user(librarian))
    communicator, connected = await _connect("/ws/documents/progress/", ["bearer", token])
    assert connected
    progress: DocumentProgress = {
        "id": 7,
        "status": "processing",
        "stage": "embedding",
        "stage_display": "Embedding",
        "progress": 60,
        "error_code": "",
    }
    await sync_to_async(publish_progress)(progress)
    message = await communicator.receive_json_from(timeout=5)
    assert message == {"type": "document.progress", "document": progress}
    await communicator.disconnect()


async def test_a_librarian_is_in_the_progress_group_before_the_handshake_completes(librarian, monkeypatch):
    """An event published the moment the socket opens reaches it, however long joining the group takes.

    Joining is slowed down here: accepting before joining (the old order) lost this event, as it once did in CI.
    """
    import asyncio

    from asgiref.sync import sync_to_async
    from channels_redis.core import RedisChannelLayer

    from documents.events import DocumentProgress, publish_progress

    join = RedisChannelLayer.group_add

    async def slow_join(self, group, channel):
        await asyncio.sleep(0.5)
        await join(self, group, channel)

    monkeypatch.setattr(RedisChannelLayer, "group_add", slow_join)
    token = str(AccessToken.for_user(librarian))
    communicator, connected = await _connect("/ws/documents/progress/", ["bearer", token])
    assert connected
    progress: DocumentProgress = {
        "id": 8, "status": "completed", "stage": "done", "stage_display": "Ολοκληρώθηκε", "progress": 100,
        "error_code": "",
    }  # fmt: skip
    await sync_to_async(publish_progress)(progress)
    message = await communicator.receive_json_from(timeout=5)
    assert message == {"type": "document.progress", "document": progress}
    await communicator.disconnect()


async def test_foreign_origin_is_refused(librarian):
    token = str(AccessToken.for_user(librarian))
    _, connected = await _connect(
        "/ws/documents/progress/",
        ["bearer", token],
        headers=[(b"origin", b"http://evil.example"), (b"host", b"127.0.0.1")],
    )
    assert not connected
