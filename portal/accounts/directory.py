"""LDAP / Active Directory: finds an account, checks its password by bind, and resolves its groups, nested ones too."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from portal.accounts.models import AuthSource
from portal.utilities.encryption import decrypt

MEMBERSHIP_ATTRIBUTES = ("member", "uniqueMember", "memberOf")
# Nesting deeper than this is a misconfiguration (or a loop the visited set already stops): it bounds the
# number of searches one sign-in may cost.
MAX_GROUP_DEPTH = 10


class DirectoryError(Exception):
    """The directory could not answer: unreachable, TLS refused, the service bind refused, a bad filter."""


@dataclass(frozen=True)
class LdapSettings:
    """An LDAP source's settings, as stored in `AuthSource.settings`; the bind password is kept apart, encrypted."""

    urls: list[str]
    user_search_base: str
    bind_dn: str = ""
    start_tls: bool = False
    # PEM of the CA(s) that sign the server's certificate; empty: the system's trust store.
    ca_certificate: str = ""
    user_search_filter: str = "(objectClass=inetOrgPerson)"
    uid_attribute: str = "uid"
    display_name_attribute: str = "cn"
    email_attribute: str = "mail"
    group_search_base: str = ""
    group_search_filter: str = "(objectClass=groupOfNames)"
    membership_attribute: str = "member"
    admin_group: str = ""
    timeout_seconds: int = 5

    @classmethod
    def of(cls, source: AuthSource) -> LdapSettings:
        return cls(**{key: value for key, value in source.settings.items() if key in cls.__dataclass_fields__})


@dataclass(frozen=True)
class DirectoryAccount:
    dn: str
    uid: str
    display_name: str
    email: str
    # Lower-cased DNs of every group the account is in, directly or through other groups.
    groups: frozenset[str]

    def in_group(self, group_dn: str) -> bool:
        return bool(group_dn) and group_dn.lower() in self.groups


class LdapDirectory:
    """One LDAP source. Each call opens its own connections: sign-ins are rare (results are cached), and a
    connection shared between threads would serialise them."""

    def __init__(self, source: AuthSource) -> None:
        self.source = source
        self.settings = LdapSettings.of(source)

    def authenticate(self, uid: str, password: str) -> DirectoryAccount | None:
        """The account if `password` is its password; None if there is no such account or the password is wrong."""
        if not password:
            # An empty password makes a bind "unauthenticated", which servers accept: never a sign-in.
            return None
        with self._service_connection() as connection:
            entry = self._find_user(connection, uid)
            if entry is None:
                return None
            if not self._binds(entry.entry_dn, password):
                return None
            return self._account(connection, entry)

    def lookup(self, uid: str) -> DirectoryAccount | None:
        """The account as the directory has it now (None: removed or disabled), without its password."""
        with self._service_connection() as connection:
            entry = self._find_user(connection, uid)
            return self._account(connection, entry) if entry is not None else None

    def _server_pool(self) -> ldap3.ServerPool:
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT,
                        ca_certs_data=self.settings.ca_certificate or None)
        servers = [ldap3.Server(url, use_ssl=url.lower().startswith("ldaps://"), tls=tls,
                                connect_timeout=self.settings.timeout_seconds) for url in self.settings.urls]
        # FIRST with active probing: the first server that answers, the next ones when it is down.
        return ldap3.ServerPool(servers, ldap3.FIRST, active=1, exhaust=True)

    def _connection(self, user: str | None, password: str | None) -> ldap3.Connection:
        connection = ldap3.Connection(self._server_pool(), user=user, password=password, auto_bind=False,
                                      receive_timeout=self.settings.timeout_seconds, raise_exceptions=False,
                                      read_only=True)
        connection.open()
        if self.settings.start_tls and not connection.server.ssl:
            connection.start_tls()
        return connection

    def _service_connection(self) -> ldap3.Connection:
        try:
            password = decrypt(self.source.encrypted_secret) if self.source.encrypted_secret else None
            connection = self._connection(self.settings.bind_dn or None, password)
            if not connection.bind():
                raise DirectoryError(f"the directory refused the bind of {self.settings.bind_dn or 'anonymous'}: "
                                     f"{connection.result.get('description', '')}")
        except LDAPException as error:
            raise DirectoryError(f"cannot reach the directory: {error}") from None
        return connection

    def _binds(self, dn: str, password: str) -> bool:
        try:
            connection = self._connection(dn, password)
            try:
                return bool(connection.bind())
            finally:
                connection.unbind()
        except LDAPException as error:
            raise DirectoryError(f"cannot reach the directory: {error}") from None

    def _search(self, connection: ldap3.Connection, base: str, search_filter: str, attributes: list[str],
                scope: str = ldap3.SUBTREE) -> list[Any]:
        try:
            connection.search(base, search_filter, search_scope=scope, attributes=attributes)
        except LDAPException as error:
            raise DirectoryError(f"search under {base!r} failed: {error}") from None
        if connection.result.get("result") not in (0, 32):  # 32: no such object, an empty answer
            raise DirectoryError(f"search under {base!r} failed: {connection.result.get('description')}")
        return [entry for entry in connection.entries]

    def _find_user(self, connection: ldap3.Connection, uid: str) -> Any | None:
        s = self.settings
        search_filter = f"(&{s.user_search_filter}({s.uid_attribute}={escape_filter_chars(uid)}))"
        attributes = [s.uid_attribute, s.display_name_attribute, s.email_attribute]
        if s.membership_attribute == "memberOf":
            attributes.append("memberOf")
        entries = self._search(connection, s.user_search_base, search_filter, attributes)
        # Two entries for one name would let either password in: refused as no account.
        return entries[0] if len(entries) == 1 else None

    def _account(self, connection: ldap3.Connection, entry: Any) -> DirectoryAccount:
        s = self.settings
        return DirectoryAccount(
            dn=entry.entry_dn,
            uid=_first(entry, s.uid_attribute).lower(),
            display_name=_first(entry, s.display_name_attribute),
            email=_first(entry, s.email_attribute),
            groups=frozenset(self._groups(connection, entry)),
        )

    def _groups(self, connection: ldap3.Connection, entry: Any) -> set[str]:
        """Every group reached from the account, breadth first; the visited set makes cycles harmless."""
        s = self.settings
        found: set[str] = set()
        if s.membership_attribute == "memberOf":
            frontier = {dn.lower() for dn in _values(entry, "memberOf")}
            for _ in range(MAX_GROUP_DEPTH):
                frontier -= found
                if not frontier:
                    break
                found |= frontier
                parents: set[str] = set()
                for group_dn in frontier:
                    for group in self._search(connection, group_dn, "(objectClass=*)", ["memberOf"], ldap3.BASE):
                        parents |= {dn.lower() for dn in _values(group, "memberOf")}
                frontier = parents
            return found
        if not s.group_search_base:
            return found
        members = {entry.entry_dn}
        for _ in range(MAX_GROUP_DEPTH):
            # One search per level of nesting, whatever the number of groups on it.
            any_of = "".join(f"({s.membership_attribute}={escape_filter_chars(dn)})" for dn in sorted(members))
            groups = self._search(connection, s.group_search_base, f"(&{s.group_search_filter}(|{any_of}))", [])
            members = {group.entry_dn for group in groups if group.entry_dn.lower() not in found}
            if not members:
                break
            found |= {dn.lower() for dn in members}
        return found


def _values(entry: Any, attribute: str) -> list[str]:
    if attribute not in entry.entry_attributes:
        return []
    return [str(value) for value in entry[attribute].values]


def _first(entry: Any, attribute: str) -> str:
    values = _values(entry, attribute)
    return values[0] if values else ""
