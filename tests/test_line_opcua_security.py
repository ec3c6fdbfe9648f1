"""OPC UA with a certificate (docs/plc.md): signed and encrypted endpoints only, passwords never in plain text, an
optional trust folder of client certificates; driven by the real asyncua client over real RSA crypto. Bad files
are refused before anything binds, in one line."""

import asyncio

import pytest

pytest.importorskip("asyncua")
from asyncua import Client, ua
from asyncua.crypto import cert_gen
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from inference import InspectorError
from inspector_line.cli import main as line_main
from line_helpers import free_port, make_project
from station.line_io.opcua import NAMESPACE, OpcUaServer
from station.line_io.opcua_security import load_security, make_self_signed


def _client_identity(folder, name):
    """A PLC's own certificate, as its engineering tool would make it: a client URI in subjectAltName."""
    folder.mkdir(parents=True, exist_ok=True)
    uri = f"urn:plc:{name}"
    key = cert_gen.generate_private_key()
    cert = cert_gen.generate_self_signed_app_certificate(
        key, name, {}, [x509.UniformResourceIdentifier(uri), x509.DNSName("plc")],
        extended=[ExtendedKeyUsageOID.CLIENT_AUTH], days=30)
    cert_path, key_path = folder / f"{name}.der", folder / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    key_path.write_bytes(cert_gen.dump_private_key_as_pem(key))
    return uri, cert_path, key_path


def _connect(url, server_cert, identity=None, user=None, password=None, mode=ua.MessageSecurityMode.SignAndEncrypt,
             trigger=False):
    async def go():
        client = Client(url)
        if identity:
            uri, cert, key = identity
            client.application_uri = uri
            await client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key),
                                      server_certificate=str(server_cert), mode=mode)
        if user:
            client.set_user(user)
            client.set_password(password)
        async with client:
            idx = await client.get_namespace_index(NAMESPACE)
            if trigger:  # what the PLC does, over the encrypted session
                await client.get_node(ua.NodeId("Inspector.Trigger", idx)).write_value(
                    ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
            return idx

    return asyncio.run(go())


def _session_over_a_none_channel(url, user=None, password=None):
    """What a hostile client can try: a SecurityPolicy None channel (open for GetEndpoints), then a session on it,
    skipping the client's own check that the server offers no such endpoint."""
    async def go():
        client = Client(url)
        await client.connect_socket()
        try:
            await client.send_hello()
            await client.open_secure_channel()
            with pytest.raises(ua.UaError, match="No matching endpoints"):  # the client's check, after the request
                await client.create_session()
            await client.activate_session(username=user, password=password)
            return await client.get_node(ua.NodeId("Inspector.Trigger", 2)).read_value()
        finally:
            client.disconnect_socket()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def server_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("opcua_cert")
    cert, key = make_self_signed(folder, host="line3-pc")
    return cert, key


def test_secured_endpoint_encrypts_and_refuses_security_none(server_files, tmp_path):
    cert, key = server_files
    security = load_security(cert, key)
    assert security.application_uri == "urn:line3-pc:inspector"
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    server = OpcUaServer(url, users={"plc1": "correct-horse"}, security=security)
    assert "signed and encrypted" in server.describe() and "any client certificate" in server.describe()
    server.start()
    plc = _client_identity(tmp_path / "plc", "plc-a")
    try:
        async def offered():  # GetEndpoints needs no session
            endpoints = await Client(url).connect_and_get_server_endpoints()
            return {(e.SecurityPolicyUri.rsplit("#", 1)[-1], e.SecurityMode) for e in endpoints}

        assert asyncio.run(offered()) == {(policy, mode) for policy in ("Basic256Sha256", "Aes256_Sha256_RsaPss")
                                          for mode in (ua.MessageSecurityMode.Sign,
                                                       ua.MessageSecurityMode.SignAndEncrypt)}
        # A session over SecurityPolicy None is refused: no such endpoint, so no password in plain text.
        with pytest.raises(ua.UaError):
            _connect(url, cert, user="plc1", password="correct-horse")
        with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):  # nor by going around the client
            _session_over_a_none_channel(url, "plc1", "correct-horse")
        assert _connect(url, cert, plc, "plc1", "correct-horse") == server.namespace_index
        assert _connect(url, cert, plc, "plc1", "correct-horse",
                        mode=ua.MessageSecurityMode.Sign) == server.namespace_index
        with pytest.raises(ua.UaStatusCodeError):  # the users still decide, over the encrypted channel
            _connect(url, cert, plc, "plc1", "wrong-password")
    finally:
        server.close()


def test_trust_folder_admits_only_its_clients(server_files, tmp_path):
    cert, key = server_files
    trusted = _client_identity(tmp_path / "keys", "plc-a")
    stranger = _client_identity(tmp_path / "elsewhere", "laptop")
    (tmp_path / "trusted").mkdir()  # certificates only: a PLC's key never leaves the PLC
    (tmp_path / "trusted" / "plc-a.der").write_bytes(trusted[1].read_bytes())
    security = load_security(cert, key, tmp_path / "trusted")
    assert security.trusted_count == 1
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    server = OpcUaServer(url, security=security)
    assert "(1)" in server.describe()
    server.start()
    try:
        assert _connect(url, cert, trusted, trigger=True) == server.namespace_index
        assert server.handshake.state.trigger  # the PLC's write reached the station
        with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):  # anonymous: still no None session
            _session_over_a_none_channel(url)
        with pytest.raises(ua.UaStatusCodeError):  # BadCertificateUntrusted; the same client passes without a list
            _connect(url, cert, stranger)
    finally:
        server.close()


def test_bad_files_are_refused_in_one_line(server_files, tmp_path):
    cert, key = server_files
    other_cert, other_key = make_self_signed(tmp_path / "other", host="other-pc")
    with pytest.raises(InspectorError, match="not the private key"):
        load_security(cert, other_key)
    with pytest.raises(InspectorError, match="cannot read the OPC UA certificate"):
        load_security(tmp_path / "missing.der", key)
    (tmp_path / "junk.der").write_bytes(b"not a certificate")
    with pytest.raises(InspectorError, match="not an X.509 certificate"):
        load_security(tmp_path / "junk.der", key)
    with pytest.raises(InspectorError, match="not an unencrypted PEM private key"):
        load_security(cert, cert)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InspectorError, match="holds no certificate"):
        load_security(cert, key, tmp_path / "empty")
    (tmp_path / "empty" / "order.txt").write_text("not a certificate")  # the server's trust store would load it
    with pytest.raises(InspectorError, match="order.txt is not an X.509 certificate"):
        load_security(cert, key, tmp_path / "empty")
    # A certificate without an application URI: clients would refuse it later, so it is refused now.
    private = cert_gen.generate_private_key()
    plain = cert_gen.generate_self_signed_app_certificate(private, "x", {}, [x509.DNSName("x")],
                                                          extended=[ExtendedKeyUsageOID.SERVER_AUTH])
    (tmp_path / "plain.der").write_bytes(plain.public_bytes(serialization.Encoding.DER))
    (tmp_path / "plain.pem").write_bytes(cert_gen.dump_private_key_as_pem(private))
    with pytest.raises(InspectorError, match="application URI"):
        load_security(tmp_path / "plain.der", tmp_path / "plain.pem")
    with pytest.raises(InspectorError, match="exists"):
        make_self_signed(cert.parent)
    # One about to lapse still serves, and the start-up line says to renew it.
    soon = cert_gen.generate_self_signed_app_certificate(
        private, "x", {}, [x509.UniformResourceIdentifier("urn:x:inspector"), x509.DNSName("x")],
        extended=[ExtendedKeyUsageOID.SERVER_AUTH], days=10)
    (tmp_path / "soon.der").write_bytes(soon.public_bytes(serialization.Encoding.DER))
    assert "RENEW IT: 9 days left" in load_security(tmp_path / "soon.der", tmp_path / "plain.pem").describe()
    assert "RENEW" not in load_security(cert, key).describe()
    assert (other_key.stat().st_mode & 0o077) == 0  # the key is private to its owner


@pytest.mark.parametrize("flags, says", [
    (["--opcua-cert", "C"], "--opcua-cert and --opcua-key go together"),
    (["--opcua-key", "K", "--opcua-trust", "T"], "--opcua-cert and --opcua-key go together"),
    (["--opcua-cert", "MISSING.der", "--opcua-key", "K"], "cannot read the OPC UA certificate"),
])
def test_cli_flags_checked_before_the_run(tmp_path, capsys, flags, says):
    _, project = make_project(tmp_path / "p")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    code = line_main(["run", str(project), "--source", str(inbox), "--history", str(tmp_path / "h.sqlite"),
                      "--opcua", f"opc.tcp://127.0.0.1:{free_port()}", *flags, "--idle-exit", "0.1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and says in err, err


def test_cli_serves_the_secured_endpoint(server_files, tmp_path, capsys):
    cert, key = server_files
    _, project = make_project(tmp_path / "p")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    code = line_main(["run", str(project), "--source", str(inbox), "--history", str(tmp_path / "h.sqlite"),
                      "--opcua", f"opc.tcp://127.0.0.1:{free_port()}", "--opcua-cert", str(cert),
                      "--opcua-key", str(key), "--idle-exit", "0.5"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "OPC UA on opc.tcp://127.0.0.1:" in out and "signed and encrypted" in out and "valid until 20" in out


def test_opcua_cert_command_writes_a_usable_pair_once(tmp_path, capsys):
    assert line_main(["opcua-cert", str(tmp_path / "pki"), "--host", "line3-pc"]) == 0
    out = capsys.readouterr().out
    assert "urn:line3-pc:inspector" in out
    security = load_security(tmp_path / "pki" / "inspector_opcua_cert.der", tmp_path / "pki" / "inspector_opcua_key.pem")
    assert security.application_uri == "urn:line3-pc:inspector"
    before = (tmp_path / "pki" / "inspector_opcua_key.pem").read_bytes()
    assert line_main(["opcua-cert", str(tmp_path / "pki")]) == 2  # never replaced: PLCs may trust it already
    assert "exists" in capsys.readouterr().err
    assert (tmp_path / "pki" / "inspector_opcua_key.pem").read_bytes() == before
