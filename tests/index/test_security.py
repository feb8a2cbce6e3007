"""Credentials never reach logs, reprs or error messages; HTTPS verifies the server's certificate
against the configured CA (a real TLS server on 127.0.0.1 with certificates made in the test)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from newsflow.core.errors import ElasticsearchUnavailable
from newsflow.core.es import make_client, translate_errors
from newsflow.core.settings import load_settings
from newsflow.index.store import ArticleStore

PASSWORD = "pa55-Very-Secret"
API_KEY = "QUJDOmFwaS1rZXktc2VjcmV0"


def test_credentials_stay_out_of_repr_logs_and_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make_article: Any
) -> None:
    settings = load_settings(es_url=f"http://elastic:{PASSWORD}@127.0.0.1:9", es_api_key=API_KEY,
                             home=tmp_path, index_prefix="secret")
    caplog.set_level(logging.DEBUG)

    with pytest.raises(ElasticsearchUnavailable) as caught:
        ArticleStore(make_client(settings, max_retries=0), settings).write([make_article("x")])

    seen = [repr(settings), str(settings), settings.es_url_redacted, str(caught.value),
            *(record.getMessage() for record in caplog.records)]
    assert caplog.records, "expected the failed connection to be logged"
    for text in seen:
        assert PASSWORD not in text and API_KEY not in text
    assert "elastic:***@127.0.0.1:9" in str(caught.value)


class _Certificates:
    """A CA and a server certificate for 127.0.0.1 signed by it, plus an unrelated CA."""

    def __init__(self, directory: Path) -> None:
        self.ca_key, self.ca_cert = _self_signed("newsflow test CA")
        self.other_ca_key, self.other_ca_cert = _self_signed("some other CA")
        server_key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        server_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(self.ca_cert.subject)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.pem"
        self.other_ca_file = directory / "other-ca.pem"
        self.server_cert_file = directory / "server.pem"
        self.server_key_file = directory / "server.key"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.other_ca_file.write_bytes(self.other_ca_cert.public_bytes(serialization.Encoding.PEM))
        self.server_cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
        self.server_key_file.write_bytes(server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _self_signed(name: str) -> tuple[Any, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


class _ElasticsearchLike(BaseHTTPRequestHandler):
    """Answers like an Elasticsearch root endpoint, and remembers the Authorization header."""

    authorizations: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _ElasticsearchLike.authorizations.append(self.headers.get("Authorization", ""))
        body = json.dumps({"version": {"number": "8.12.2", "build_flavor": "default"},
                           "tagline": "You Know, for Search"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, _Certificates]]:
    certificates = _Certificates(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ElasticsearchLike)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.server_cert_file, certificates.server_key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", certificates
    server.shutdown()
    server.server_close()


def test_https_with_the_right_ca_verifies_and_sends_the_api_key(
    tls_server: tuple[str, _Certificates], tmp_path: Path
) -> None:
    url, certificates = tls_server
    settings = load_settings(es_url=url, es_ca_certs=certificates.ca_file, es_api_key=API_KEY, home=tmp_path)
    client = make_client(settings, max_retries=0)

    with translate_errors(settings.es_url_redacted):
        info = client.info()

    assert info["version"]["number"] == "8.12.2"
    assert _ElasticsearchLike.authorizations[-1] == f"ApiKey {API_KEY}"


def test_https_with_a_certificate_from_another_ca_fails_verification_clearly(
    tls_server: tuple[str, _Certificates], tmp_path: Path
) -> None:
    url, certificates = tls_server
    settings = load_settings(es_url=url, es_ca_certs=certificates.other_ca_file, home=tmp_path)
    client = make_client(settings, max_retries=0)

    with (
        pytest.raises(ElasticsearchUnavailable, match="certificate verify failed") as caught,
        translate_errors(settings.es_url_redacted),
    ):
        client.info()
    assert "NEWSFLOW_ES_CA_CERTS" in str(caught.value)
