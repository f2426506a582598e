"""The official azure-keyvault-keys KeyClient and CryptographyClient against keyhold, configured only by
`keyhold env`. Every signature, ciphertext and wrapped key is checked with `cryptography` (an
implementation independent of keyhold's aws-lc-rs) against the public JWK keyhold returned, and
ciphertexts made by `cryptography` are decrypted by keyhold.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.keyvault.keys import (
    JsonWebKey,
    KeyClient,
    KeyRotationLifetimeAction,
    KeyRotationPolicy,
    KeyRotationPolicyAction,
)
from azure.keyvault.keys.crypto import (
    CryptographyClient,
    EncryptionAlgorithm,
    KeyWrapAlgorithm,
    SignatureAlgorithm,
)
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import keyhold_harness as kh


@pytest.fixture
def client(vault: kh.Vault, sdk_environ: dict) -> KeyClient:
    return KeyClient(vault.url, DefaultAzureCredential())


def rsa_public(key) -> rsa.RSAPublicKey:
    n = int.from_bytes(key.key.n, "big")
    e = int.from_bytes(key.key.e, "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def ec_public(key, curve) -> ec.EllipticCurvePublicKey:
    x = int.from_bytes(key.key.x, "big")
    y = int.from_bytes(key.key.y, "big")
    return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()


def b(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def test_create_get_list_update(client: KeyClient, vault: kh.Vault) -> None:
    name = kh.unique("rsa")
    key = client.create_rsa_key(name, size=3072, tags={"env": "test"})
    assert key.key_type == "RSA"
    assert key.id == f"{vault.url}/keys/{name}/{key.properties.version}"
    assert len(key.key.n) == 384 and key.key.e == b"\x01\x00\x01"
    assert key.key.d is None and key.key.p is None
    assert key.properties.tags == {"env": "test"}
    assert set(key.key_operations) == {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"}
    got = client.get_key(name)
    assert got.id == key.id and got.key.n == key.key.n
    assert client.get_key(name, key.properties.version).id == key.id

    ec_key = client.create_ec_key(kh.unique("ec"), curve="P-521")
    assert ec_key.key.crv == "P-521" and len(ec_key.key.x) == 66

    names = {p.name for p in client.list_properties_of_keys()}
    assert {name, ec_key.name} <= names
    rotated = client.rotate_key(name)
    assert rotated.properties.version != key.properties.version
    assert len(rotated.key.n) == 384, "rotation keeps the size"
    versions = [p.version for p in client.list_properties_of_key_versions(name, max_page_size=1)]
    assert sorted(versions) == sorted([key.properties.version, rotated.properties.version])

    exp = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    updated = client.update_key_properties(
        name, key.properties.version, enabled=False, expires_on=exp, key_operations=["verify"], tags={"a": "b"}
    )
    assert updated.properties.enabled is False
    assert updated.properties.expires_on == exp
    assert updated.key_operations == ["verify"]
    assert updated.properties.tags == {"a": "b"}


def test_delete_recover_purge_backup_restore(client: KeyClient) -> None:
    name = kh.unique("life")
    key = client.create_ec_key(name, curve="P-256")
    backup = client.backup_key(name)
    deleted = client.begin_delete_key(name).result()
    assert deleted.name == name and deleted.recovery_id.endswith(f"/deletedkeys/{name}")
    assert deleted.key.x == key.key.x, "a deleted key keeps its public JWK"
    assert client.get_deleted_key(name).name == name
    assert name in {d.name for d in client.list_deleted_keys()}
    with pytest.raises(ResourceNotFoundError):
        client.get_key(name)
    recovered = client.begin_recover_deleted_key(name).result()
    assert recovered.id == key.id
    client.begin_delete_key(name).result()
    client.purge_deleted_key(name)
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_key(name)
    restored = client.restore_key_backup(backup)
    assert restored.id == key.id and restored.key.x == key.key.x


def test_rotation_policy_random_and_release(client: KeyClient) -> None:
    name = kh.unique("pol")
    client.create_rsa_key(name)
    policy = KeyRotationPolicy(
        expires_in="P90D",
        lifetime_actions=[
            KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate, time_after_create="P30D"),
            KeyRotationLifetimeAction(KeyRotationPolicyAction.notify, time_before_expiry="P7D"),
        ],
    )
    set_policy = client.update_key_rotation_policy(name, policy)
    assert set_policy.expires_in == "P90D"
    got = client.get_key_rotation_policy(name)
    actions = {a.action: (a.time_after_create, a.time_before_expiry) for a in got.lifetime_actions}
    assert actions[KeyRotationPolicyAction.rotate] == ("P30D", None)
    assert actions[KeyRotationPolicyAction.notify] == (None, "P7D")
    with pytest.raises(HttpResponseError) as err:
        client.update_key_rotation_policy(
            name, KeyRotationPolicy(lifetime_actions=[KeyRotationLifetimeAction("Rotate", time_after_create="P1D")])
        )
    assert err.value.status_code == 400
    random = client.get_random_bytes(32)
    assert len(random) == 32 and random != client.get_random_bytes(32)
    with pytest.raises(HttpResponseError) as err:
        client.release_key(name, "target-attestation-token")
    assert err.value.status_code == 400


@pytest.mark.parametrize("alg,hash_alg,pad", [
    (SignatureAlgorithm.rs256, hashes.SHA256(), "pkcs1"),
    (SignatureAlgorithm.rs512, hashes.SHA512(), "pkcs1"),
    (SignatureAlgorithm.ps256, hashes.SHA256(), "pss"),
    (SignatureAlgorithm.ps384, hashes.SHA384(), "pss"),
])
def test_rsa_sign_checked_by_cryptography(client: KeyClient, alg, hash_alg, pad) -> None:
    key = client.create_rsa_key(kh.unique("sig"))
    crypto = CryptographyClient(key.id, DefaultAzureCredential())
    message = b"keyhold signs a digest"
    h = hashes.Hash(hash_alg)
    h.update(message)
    digest = h.finalize()
    result = crypto.sign(alg, digest)
    assert result.key_id == key.id
    pub = rsa_public(key)
    scheme = padding.PKCS1v15() if pad == "pkcs1" else padding.PSS(padding.MGF1(hash_alg), hash_alg.digest_size)
    pub.verify(result.signature, message, scheme, hash_alg)
    assert crypto.verify(alg, digest, result.signature).is_valid
    tampered = bytes([result.signature[0] ^ 1]) + result.signature[1:]
    assert not crypto.verify(alg, digest, tampered).is_valid


@pytest.mark.parametrize("curve,alg,hash_alg,crv", [
    ("P-256", SignatureAlgorithm.es256, hashes.SHA256(), ec.SECP256R1()),
    ("P-384", SignatureAlgorithm.es384, hashes.SHA384(), ec.SECP384R1()),
    ("P-521", SignatureAlgorithm.es512, hashes.SHA512(), ec.SECP521R1()),
    ("P-256K", SignatureAlgorithm.es256_k, hashes.SHA256(), ec.SECP256K1()),
])
def test_ec_sign_checked_by_cryptography(client: KeyClient, curve, alg, hash_alg, crv) -> None:
    key = client.create_ec_key(kh.unique("ecs"), curve=curve)
    crypto = CryptographyClient(key, DefaultAzureCredential())
    message = os.urandom(40)
    h = hashes.Hash(hash_alg)
    h.update(message)
    digest = h.finalize()
    sig = crypto.sign(alg, digest).signature
    half = len(sig) // 2
    der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
    ec_public(key, crv).verify(der, message, ec.ECDSA(hash_alg))
    assert crypto.verify(alg, digest, sig).is_valid


def test_encrypt_decrypt_wrap_both_ways(client: KeyClient) -> None:
    key = client.create_rsa_key(kh.unique("enc"))
    remote = CryptographyClient(key.id, DefaultAzureCredential())
    pub = rsa_public(key)
    cases = [
        (EncryptionAlgorithm.rsa1_5, KeyWrapAlgorithm.rsa1_5, padding.PKCS1v15()),
        (EncryptionAlgorithm.rsa_oaep, KeyWrapAlgorithm.rsa_oaep, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)),
        (EncryptionAlgorithm.rsa_oaep_256, KeyWrapAlgorithm.rsa_oaep_256, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)),
    ]
    for enc_alg, wrap_alg, pad in cases:
        plaintext = os.urandom(32)
        # Made by cryptography, decrypted and unwrapped by keyhold.
        ct = pub.encrypt(plaintext, pad)
        assert remote.decrypt(enc_alg, ct).plaintext == plaintext
        assert remote.unwrap_key(wrap_alg, ct).key == plaintext
        # Made by keyhold's encrypt (the SDK may do it locally with the public key) and decrypted again.
        made = remote.encrypt(enc_alg, plaintext)
        assert remote.decrypt(enc_alg, made.ciphertext).plaintext == plaintext
        wrapped = remote.wrap_key(wrap_alg, plaintext)
        assert remote.unwrap_key(wrap_alg, wrapped.encrypted_key).key == plaintext


def test_service_side_encrypt_is_decryptable_locally_checked(
    client: KeyClient, server: kh.Server, vault: kh.Vault, vtoken: str
) -> None:
    """The service's own encrypt (not the SDK's local one), checked by a keyhold decrypt and by length."""
    key = client.create_rsa_key(kh.unique("svc"))
    import base64

    body = {"alg": "RSA-OAEP-256", "value": base64.urlsafe_b64encode(b"hello").rstrip(b"=").decode()}
    resp = kh.vault_request(server, vault, "POST", f"keys/{key.name}/{key.properties.version}/encrypt", vtoken, json_body=body)
    assert resp.status_code == 200, resp.text
    ct = base64.urlsafe_b64decode(resp.json()["value"] + "==")
    crypto = CryptographyClient(key.id, DefaultAzureCredential())
    assert crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, ct).plaintext == b"hello"


def test_import_rsa_and_ec(client: KeyClient) -> None:
    priv = rsa.generate_private_key(65537, 2048)
    nums = priv.private_numbers()
    jwk = JsonWebKey(
        kty="RSA", n=b(nums.public_numbers.n), e=b(nums.public_numbers.e), d=b(nums.d), p=b(nums.p), q=b(nums.q),
        dp=b(nums.dmp1), dq=b(nums.dmq1), qi=b(nums.iqmp), key_ops=["sign", "verify"],
    )
    imported = client.import_key(kh.unique("imp"), jwk)
    assert imported.key.n == b(nums.public_numbers.n) and imported.key.d is None
    digest = hashlib.sha256(b"m").digest()
    sig = CryptographyClient(imported.id, DefaultAzureCredential()).sign(SignatureAlgorithm.rs256, digest).signature
    priv.public_key().verify(sig, b"m", padding.PKCS1v15(), hashes.SHA256())

    ec_priv = ec.generate_private_key(ec.SECP384R1())
    en = ec_priv.private_numbers()
    ejwk = JsonWebKey(kty="EC", crv="P-384", d=en.private_value.to_bytes(48, "big"),
                      x=en.public_numbers.x.to_bytes(48, "big"), y=en.public_numbers.y.to_bytes(48, "big"))
    ec_imported = client.import_key(kh.unique("impec"), ejwk)
    assert ec_imported.key.crv == "P-384"

    # Inconsistent private parts: refused, nothing stored.
    bad_name = kh.unique("bad")
    bad = JsonWebKey(kty="RSA", n=jwk.n, e=jwk.e, d=jwk.d, p=jwk.q, q=jwk.p, dp=jwk.dp, dq=jwk.dq, qi=jwk.qi)
    with pytest.raises(HttpResponseError) as err:
        client.import_key(bad_name, bad)
    assert err.value.status_code == 400 and err.value.error.code == "BadParameter"
    with pytest.raises(ResourceNotFoundError):
        client.get_key(bad_name)


def test_bad_input_and_time_rules(client: KeyClient) -> None:
    for kwargs, what in [({"size": 1024}, "size")]:
        name = kh.unique("bad")
        with pytest.raises(HttpResponseError) as err:
            client.create_rsa_key(name, **kwargs)
        assert err.value.status_code == 400, what
        with pytest.raises(ResourceNotFoundError):
            client.get_key(name)
    with pytest.raises(HttpResponseError) as err:
        client.create_ec_key(kh.unique("bad"), curve="P-192")
    assert err.value.status_code == 400
    with pytest.raises(HttpResponseError) as err:
        client.create_rsa_key(kh.unique("hsm"), hardware_protected=True)
    assert err.value.status_code == 400

    key = client.create_ec_key(kh.unique("ops"), curve="P-256", key_operations=["verify"])
    crypto = CryptographyClient(key.id, DefaultAzureCredential())
    with pytest.raises(HttpResponseError) as err:
        crypto.sign(SignatureAlgorithm.es256, hashlib.sha256(b"x").digest())
    assert err.value.status_code == 403, "sign is not in key_ops"
    good = client.create_ec_key(kh.unique("dl"), curve="P-256")
    with pytest.raises(HttpResponseError) as err:
        CryptographyClient(good.id, DefaultAzureCredential()).sign(SignatureAlgorithm.es256, b"short")
    assert err.value.status_code == 400, "digest of the wrong length"

    expiring = client.create_ec_key(kh.unique("exp"), curve="P-256")
    crypto = CryptographyClient(expiring.id, DefaultAzureCredential())
    digest = hashlib.sha256(b"before").digest()
    sig = crypto.sign(SignatureAlgorithm.es256, digest).signature
    client.update_key_properties(expiring.name, expires_on=datetime.now(timezone.utc) - timedelta(minutes=1))
    with pytest.raises(HttpResponseError) as err:
        crypto.sign(SignatureAlgorithm.es256, digest)
    assert err.value.status_code == 403
    assert crypto.verify(SignatureAlgorithm.es256, digest, sig).is_valid, "verify still works after expiry"
