"""Django's database sessions, with only a hash of each session key stored: a copy of the table (a backup, a
read-only SQL hole) holds no cookie that signs anyone in, while sign-out still ends a session on the server."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.base_session import AbstractBaseSession
from django.utils import timezone


def stored_key(session_key: str) -> str:
    # The key is 32 random characters (about 165 bits): a fast hash cannot be searched back. 20 bytes fill the
    # table's 40-character column, and no hash has the length of a clear key, so none is ever mistaken for one.
    return hashlib.blake2b(session_key.encode(), digest_size=20, person=b"berth-session").hexdigest()


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> AbstractBaseSession | None:
        try:
            return self.model.objects.get(session_key=stored_key(self.session_key or ""),
                                          expire_date__gt=timezone.now())
        except self.model.DoesNotExist:
            self._session_key = None
            return None

    async def _aget_session_from_db(self) -> AbstractBaseSession | None:
        try:
            return await self.model.objects.aget(session_key=stored_key(self.session_key or ""),
                                                 expire_date__gt=timezone.now())
        except self.model.DoesNotExist:
            self._session_key = None
            return None

    def exists(self, session_key: str) -> bool:
        return self.model.objects.filter(session_key=stored_key(session_key)).exists()

    async def aexists(self, session_key: str) -> bool:
        return await self.model.objects.filter(session_key=stored_key(session_key)).aexists()

    def create_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        instance = super().create_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    async def acreate_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        instance = await super().acreate_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        if key is not None:
            self.model.objects.filter(session_key=stored_key(key)).delete()

    async def adelete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        if key is not None:
            await self.model.objects.filter(session_key=stored_key(key)).adelete()
