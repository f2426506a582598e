"""The official azure-keyvault-certificates CertificateClient against keyhold, configured only by
`keyhold env`. Certificates, their PKCS#12 / PEM secrets and their keys are checked with
`cryptography` (an implementation independent of keyhold's rcgen / aws-lc-rs).
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.keyvault.certificates import (
    CertificateClient,
    CertificateContentType,
    CertificatePolicy,
    CertificatePolicyAction,
    KeyCurveName,
    KeyType,
    LifetimeAction,
    WellKnownIssuerNames,
)
from azure.keyvault.keys import KeyClient
from azure.keyvault.secrets import SecretClient
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import keyhold_harness as kh


@pytest.fixture
def clients(vault: kh.Vault, sdk_environ: dict) -> tuple[CertificateClient, SecretClient, KeyClient]:
    cred = DefaultAzureCredential()
    return CertificateClient(vault.url, cred), SecretClient(vault.url, cred), KeyClient(vault.url, cred)


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_default_policy_pkcs12_secret_and_key(clients) -> None:
    certs, secrets, keys = clients
    name = kh.unique("default")
    cert = certs.begin_create_certificate(name, CertificatePolicy.get_default()).result()
    assert cert.name == name and cert.properties.enabled
    assert cert.policy.issuer_name == "Self" and cert.policy.subject == "CN=DefaultPolicy"
    assert cert.policy.content_type == CertificateContentType.pkcs12
    assert cert.properties.recovery_level
    parsed = x509.load_der_x509_certificate(cert.cer)
    assert cert.properties.x509_thumbprint == hashlib.sha1(cert.cer).digest()
    assert parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "DefaultPolicy"
    assert parsed.issuer == parsed.subject
    assert cert.key_id.endswith(f"/keys/{name}/{cert.properties.version}")
    assert cert.secret_id.endswith(f"/secrets/{name}/{cert.properties.version}")

    secret = secrets.get_secret(name)
    assert secret.properties.version == cert.properties.version
    assert secret.properties.content_type == "application/x-pkcs12"
    key, leaf, extra = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
    assert leaf.public_bytes(serialization.Encoding.DER) == cert.cer
    assert spki(key.public_key()) == spki(parsed.public_key())

    jwk = keys.get_key(name, cert.properties.version)
    assert int.from_bytes(jwk.key.n, "big") == parsed.public_key().public_numbers().n

    op = certs.get_certificate_operation(name)
    assert op.status == "completed" and op.target.endswith(f"/certificates/{name}")
    assert op.csr and x509.load_der_x509_csr(op.csr).public_key().public_numbers() == parsed.public_key().public_numbers()


def test_custom_policy_pem_secret(clients) -> None:
    certs, secrets, keys = clients
    name = kh.unique("custom")
    policy = CertificatePolicy(
        issuer_name=WellKnownIssuerNames.self,
        subject="CN=svc.internal, O=Platform",
        san_dns_names=["svc.internal", "svc2.internal"],
        san_emails=["ops@example.test"],
        key_type=KeyType.ec,
        key_curve_name=KeyCurveName.p_384,
        content_type=CertificateContentType.pem,
        validity_in_months=6,
        enhanced_key_usage=[ExtendedKeyUsageOID.SERVER_AUTH.dotted_string],
        lifetime_actions=[LifetimeAction(action=CertificatePolicyAction.auto_renew, days_before_expiry=30)],
    )
    cert = certs.begin_create_certificate(name, policy, tags={"team": "platform"}).result()
    assert cert.properties.tags == {"team": "platform"}
    assert cert.policy.key_curve_name == KeyCurveName.p_384
    assert cert.policy.lifetime_actions[0].days_before_expiry == 30
    parsed = x509.load_der_x509_certificate(cert.cer)
    sans = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["svc.internal", "svc2.internal"]
    assert sans.get_values_for_type(x509.RFC822Name) == ["ops@example.test"]
    ekus = parsed.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(ekus) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert isinstance(parsed.public_key(), ec.EllipticCurvePublicKey)
    assert parsed.public_key().curve.name == "secp384r1"
    months = (parsed.not_valid_after_utc - parsed.not_valid_before_utc).days
    assert 180 <= months <= 185

    secret = secrets.get_secret(name)
    assert secret.properties.content_type == "application/x-pem-file"
    key = serialization.load_pem_private_key(secret.value.encode(), None)
    leaf = x509.load_pem_x509_certificate(secret.value.encode())
    assert leaf == parsed and spki(key.public_key()) == spki(parsed.public_key())
    jwk = keys.get_key(name)
    assert jwk.properties.version == cert.properties.version
    assert int.from_bytes(jwk.key.x, "big") == parsed.public_key().public_numbers().x


def test_versions_update_policy_and_lists(clients) -> None:
    certs, secrets, _ = clients
    name = kh.unique("vers")
    first = certs.begin_create_certificate(name, CertificatePolicy.get_default()).result()
    second = certs.begin_create_certificate(name, CertificatePolicy.get_default()).result()
    assert first.properties.version != second.properties.version
    assert certs.get_certificate(name).properties.version == second.properties.version
    assert certs.get_certificate_version(name, first.properties.version).cer == first.cer
    versions = [p.version for p in certs.list_properties_of_certificate_versions(name)]
    assert sorted(versions) == sorted([first.properties.version, second.properties.version])
    assert name in [p.name for p in certs.list_properties_of_certificates()]

    updated = certs.update_certificate_properties(name, first.properties.version, enabled=False, tags={"a": "b"})
    assert updated.properties.enabled is False and updated.properties.tags == {"a": "b"}
    with pytest.raises(HttpResponseError) as err:
        secrets.get_secret(name, first.properties.version)
    assert err.value.status_code == 403, "a disabled certificate's secret is disabled too"

    policy = certs.get_certificate_policy(name)
    assert policy.subject == "CN=DefaultPolicy"
    changed = certs.update_certificate_policy(
        name, CertificatePolicy(issuer_name="Self", content_type=CertificateContentType.pem)
    )
    assert changed.content_type == CertificateContentType.pem
    assert changed.subject == "CN=DefaultPolicy", "sections not sent are kept"
    third = certs.begin_create_certificate(name, certs.get_certificate_policy(name)).result()
    assert secrets.get_secret(name, third.properties.version).properties.content_type == "application/x-pem-file"

    op = certs.cancel_certificate_operation(name)
    assert op.status == "completed" and op.cancellation_requested
    deleted_op = certs.delete_certificate_operation(name)
    assert deleted_op.status == "completed"
    with pytest.raises(ResourceNotFoundError):
        certs.get_certificate_operation(name)


def test_delete_recover_purge(clients) -> None:
    certs, secrets, keys = clients
    name = kh.unique("del")
    cert = certs.begin_create_certificate(name, CertificatePolicy.get_default()).result()
    deleted = certs.begin_delete_certificate(name).result()
    assert deleted.recovery_id.endswith(f"/deletedcertificates/{name}")
    assert deleted.deleted_on and deleted.scheduled_purge_date
    for read in (lambda: certs.get_certificate(name), lambda: secrets.get_secret(name), lambda: keys.get_key(name)):
        with pytest.raises(ResourceNotFoundError):
            read()
    assert certs.get_deleted_certificate(name).properties.version == cert.properties.version
    assert name in [d.name for d in certs.list_deleted_certificates()]
    recovered = certs.begin_recover_deleted_certificate(name).result()
    assert recovered.properties.version == cert.properties.version
    assert secrets.get_secret(name).properties.version == cert.properties.version

    certs.begin_delete_certificate(name).result()
    certs.purge_deleted_certificate(name)
    with pytest.raises(ResourceNotFoundError):
        certs.get_deleted_certificate(name)
    again = certs.begin_create_certificate(name, CertificatePolicy.get_default()).result()
    assert again.properties.version != cert.properties.version


def test_bad_policies_store_nothing(clients) -> None:
    certs, _, _ = clients
    for what, policy in [
        ("RSA 1024", CertificatePolicy(issuer_name="Self", subject="CN=a", key_type=KeyType.rsa, key_size=1024)),
        ("content type", CertificatePolicy(issuer_name="Self", subject="CN=a", content_type="text/plain")),
        ("bad subject", CertificatePolicy(issuer_name="Self", subject="no-equals-sign")),
        ("validity 0", CertificatePolicy(issuer_name="Self", subject="CN=a", validity_in_months=0)),
        ("oct key", CertificatePolicy(issuer_name="Self", subject="CN=a", key_type=KeyType.oct)),
    ]:
        name = kh.unique("bad")
        with pytest.raises(HttpResponseError) as err:
            certs.begin_create_certificate(name, policy).result()
        assert err.value.status_code == 400 and err.value.error.code == "BadParameter", what
        with pytest.raises(ResourceNotFoundError):
            certs.get_certificate(name)
        with pytest.raises(ResourceNotFoundError):
            certs.get_certificate_operation(name)


def _key_and_cert(cn: str):
    from datetime import datetime, timedelta, timezone

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"{cn}.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def test_import_pfx_and_pem(clients) -> None:
    certs, secrets, keys = clients
    key, cert = _key_and_cert("imported")
    der = cert.public_bytes(serialization.Encoding.DER)
    for password in (None, b"pfx-password"):
        enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        pfx = pkcs12.serialize_key_and_certificates(b"imported", key, cert, None, enc)
        name = kh.unique("pfx")
        got = certs.import_certificate(
            name, pfx, password=password.decode() if password else None, tags={"src": "pfx"}
        )
        assert got.cer == der and got.properties.tags == {"src": "pfx"}
        assert got.policy.issuer_name == "Unknown" and got.policy.subject == "CN=imported"
        assert got.policy.san_dns_names == ["imported.test"]
        secret = secrets.get_secret(name)
        k2, c2, _ = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
        assert c2 == cert and spki(k2.public_key()) == spki(key.public_key())
        assert int.from_bytes(keys.get_key(name).key.n, "big") == key.public_key().public_numbers().n

    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + cert.public_bytes(serialization.Encoding.PEM)
    name = kh.unique("pem")
    got = certs.import_certificate(
        name, pem, policy=CertificatePolicy(issuer_name="Unknown", content_type=CertificateContentType.pem)
    )
    assert got.cer == der and got.policy.content_type == CertificateContentType.pem
    value = secrets.get_secret(name).value.encode()
    assert spki(serialization.load_pem_private_key(value, None).public_key()) == spki(key.public_key())

    # Azure's errors: wrong password, a PEM without its key, a key of another certificate.
    other_key, _ = _key_and_cert("other")
    pfx = pkcs12.serialize_key_and_certificates(
        b"x", key, cert, None, serialization.BestAvailableEncryption(b"right")
    )
    wrong_key_pem = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + cert.public_bytes(serialization.Encoding.PEM)
    pem_policy = CertificatePolicy(issuer_name="Unknown", content_type=CertificateContentType.pem)
    for what, call in [
        ("wrong password", lambda n: certs.import_certificate(n, pfx, password="wrong")),
        ("no key", lambda n: certs.import_certificate(n, cert.public_bytes(serialization.Encoding.PEM), policy=pem_policy)),
        ("other key", lambda n: certs.import_certificate(n, wrong_key_pem, policy=pem_policy)),
    ]:
        name = kh.unique("bad-import")
        with pytest.raises(HttpResponseError) as err:
            call(name)
        assert err.value.status_code == 400 and err.value.error.code == "BadParameter", what
        with pytest.raises(ResourceNotFoundError):
            certs.get_certificate(name)


def test_unknown_issuer_csr_signed_by_cryptography_and_merged(clients) -> None:
    from datetime import datetime, timedelta, timezone

    from cryptography.hazmat.primitives import hashes

    certs, secrets, _ = clients
    name = kh.unique("merge")
    policy = CertificatePolicy(issuer_name=WellKnownIssuerNames.unknown, subject="CN=merged", san_dns_names=["merged.test"])
    op = certs.begin_create_certificate(name, policy).result()
    assert op.status == "inProgress" and op.issuer_name == "Unknown"
    assert certs.get_certificate_policy(name).subject == "CN=merged", "a pending certificate has its policy"
    csr = x509.load_der_x509_csr(certs.get_certificate_operation(name).csr)
    assert csr.is_signature_valid

    ca_key, ca_cert = _key_and_cert("outside-ca")
    now = datetime.now(timezone.utc)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=10))
        .sign(ca_key, hashes.SHA256())
    )
    der = leaf.public_bytes(serialization.Encoding.DER)

    # A certificate for another key is refused.
    other_key, _ = _key_and_cert("x")
    stranger = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(other_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=10))
        .sign(ca_key, hashes.SHA256())
    )
    with pytest.raises(HttpResponseError) as err:
        certs.merge_certificate(name, [stranger.public_bytes(serialization.Encoding.DER)])
    assert err.value.status_code == 400
    assert certs.get_certificate_operation(name).status == "inProgress"

    merged = certs.merge_certificate(name, [der, ca_cert.public_bytes(serialization.Encoding.DER)])
    assert merged.cer == der
    assert certs.get_certificate_operation(name).status == "completed"
    key, got_leaf, chain = pkcs12.load_key_and_certificates(base64.b64decode(secrets.get_secret(name).value), None)
    assert got_leaf == leaf and chain == [ca_cert]
    assert spki(key.public_key()) == spki(csr.public_key())


def test_contacts_and_issuers(clients, server: kh.Server) -> None:
    from azure.keyvault.certificates import AdministratorContact, CertificateContact

    certs, _, _ = clients
    with pytest.raises(ResourceNotFoundError):
        certs.get_contacts()
    set_ = certs.set_contacts(
        [CertificateContact(email="ops@example.test", name="Ops", phone="123"), CertificateContact(email="sec@example.test")]
    )
    assert [c.email for c in set_] == ["ops@example.test", "sec@example.test"]
    got = certs.get_contacts()
    assert (got[0].name, got[0].phone) == ("Ops", "123")
    deleted = certs.delete_contacts()
    assert len(deleted) == 2
    with pytest.raises(ResourceNotFoundError):
        certs.get_contacts()

    name = kh.unique("issuer")
    issuer = certs.create_issuer(
        name,
        "KeyholdCA",
        account_id="acct",
        password="issuer-password",
        organization_id="org-1",
        admin_contacts=[AdministratorContact(first_name="A", last_name="B", email="a@example.test", phone="9")],
    )
    assert issuer.provider == "KeyholdCA" and issuer.account_id == "acct" and issuer.password is None
    assert issuer.id.endswith(f"/certificates/issuers/{name}") and issuer.enabled
    assert issuer.admin_contacts[0].email == "a@example.test"
    updated = certs.update_issuer(name, enabled=False)
    assert updated.enabled is False and updated.account_id == "acct" and updated.organization_id == "org-1"
    assert certs.get_issuer(name).enabled is False
    assert name in [i.name for i in certs.list_properties_of_issuers()]
    assert certs.delete_issuer(name).provider == "KeyholdCA"
    with pytest.raises(ResourceNotFoundError):
        certs.get_issuer(name)
    with pytest.raises(HttpResponseError) as err:
        certs.create_issuer("Self", "KeyholdCA")
    assert err.value.status_code == 400
    # The password is not stored in clear.
    assert b"issuer-password" not in b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())


def test_backup_and_restore(clients) -> None:
    certs, secrets, keys = clients
    name = kh.unique("bak")
    policy = CertificatePolicy(issuer_name="Self", subject="CN=bak", content_type=CertificateContentType.pem)
    first = certs.begin_create_certificate(name, policy).result()
    second = certs.begin_create_certificate(name, policy, tags={"v": "2"}).result()
    blob = certs.backup_certificate(name)
    with pytest.raises(HttpResponseError) as err:
        certs.restore_certificate_backup(blob)
    assert err.value.status_code == 409, "the name is taken"
    certs.begin_delete_certificate(name).result()
    certs.purge_deleted_certificate(name)
    restored = certs.restore_certificate_backup(blob)
    assert restored.properties.version == second.properties.version and restored.cer == second.cer
    assert restored.properties.tags == {"v": "2"}
    assert certs.get_certificate_version(name, first.properties.version).cer == first.cer
    assert restored.policy.content_type == CertificateContentType.pem
    value = secrets.get_secret(name).value.encode()
    key = serialization.load_pem_private_key(value, None)
    assert spki(key.public_key()) == spki(x509.load_der_x509_certificate(second.cer).public_key())
    assert keys.get_key(name).properties.version == second.properties.version
    with pytest.raises(HttpResponseError) as err:
        certs.restore_certificate_backup(blob[:-8] + b"AAAAAAAA")
    assert err.value.status_code == 400
