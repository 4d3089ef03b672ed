"""LDAPS and StartTLS against a real OpenLDAP whose certificate a CA of the test's own signs: verified with the
CA given in the source's settings, refused without it."""

from __future__ import annotations

import pytest

from tests.support.openldap import ADMIN_DN, ADMIN_PASSWORD, GROUPS, PASSWORD, PEOPLE, OpenLDAP

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def make_source(openldap_tls: OpenLDAP, url: str, **settings: object) -> object:
    from portal.accounts.authentication import forget_verified_passwords
    from portal.accounts.models import AuthSource
    from portal.utilities.encryption import encrypt

    forget_verified_passwords()
    values = {"urls": [url], "bind_dn": ADMIN_DN, "user_search_base": PEOPLE, "group_search_base": GROUPS,
              "timeout_seconds": 3, **settings}
    return AuthSource.objects.create(kind="ldap", name="tls", settings=values, encrypted_secret=encrypt(ADMIN_PASSWORD))


def test_ldaps_with_the_ca_signs_in(openldap_tls, client_for):
    make_source(openldap_tls, openldap_tls.ldaps_url, ca_certificate=openldap_tls.ca_pem)

    assert client_for("alice", PASSWORD).get("/api/v1/users/current").json()["username"] == "alice+tls"


def test_start_tls_with_the_ca_signs_in(openldap_tls, client_for):
    make_source(openldap_tls, openldap_tls.url, start_tls=True, ca_certificate=openldap_tls.ca_pem)

    assert client_for("alice", PASSWORD).get("/api/v1/users/current").json()["username"] == "alice+tls"


@pytest.mark.parametrize("start_tls", [False, True])
def test_a_certificate_the_trust_store_does_not_know_is_refused(openldap_tls, client_for, admin_user, start_tls):
    url = openldap_tls.url if start_tls else openldap_tls.ldaps_url
    source = make_source(openldap_tls, url, start_tls=start_tls)

    assert client_for("alice", PASSWORD).get("/api/v1/users/current").status_code == 401
    body = client_for(admin_user).post(f"/api/v1/system/auth-sources/{source.pk}/test", {"username": "alice"},
                                       format="json").json()
    assert (body["ok"], body["found"]) == (False, False)
    assert body["error"].startswith("cannot reach the directory")
    assert "CERTIFICATE_VERIFY_FAILED" in body["error"]
