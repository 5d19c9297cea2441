# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure connection settings and the translation of SDK errors (no network).
Sign-in and listing against a real SDK and a local ARM endpoint are in tests/e2e/test_azure_info.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ssl

import pytest

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    AuthenticationError,
    CertificateError,
    ConnectionFailedError,
    InvalidInputError,
)
from ansible_collections.hyper2kvm.migrate.plugins.module_utils._sources.azure import connection

BASE = dict(subscription_id="sub", tenant="tenant", client_id="app", secret="s3cret-value",
            cloud_environment="AzureCloud", authority_host=None, resource_manager_endpoint=None, audience=None,
            validate_certs=True, ca_bundle=None, timeout=60)


def settings(**overrides):
    return connection.settings(dict(BASE, **overrides))


def test_argument_spec_falls_back_to_awx_environment():
    spec = connection.argument_spec()
    assert spec["secret"]["no_log"] is True and spec["validate_certs"]["default"] is True
    assert dict((name, spec[name]["fallback"][1]) for name in spec if "fallback" in spec[name]) == {
        "subscription_id": ["AZURE_SUBSCRIPTION_ID"], "tenant": ["AZURE_TENANT", "AZURE_TENANT_ID"],
        "client_id": ["AZURE_CLIENT_ID"], "secret": ["AZURE_SECRET", "AZURE_CLIENT_SECRET"],
        "cloud_environment": ["AZURE_CLOUD_ENVIRONMENT"], "authority_host": ["AZURE_AUTHORITY_HOST"]}


@pytest.mark.parametrize("overrides, want", [
    ({}, ("https://login.microsoftonline.com", True, "https://management.azure.com",
          "https://management.azure.com/.default")),
    ({"cloud_environment": "AzureUSGovernment"},
     ("https://login.microsoftonline.us", True, "https://management.usgovcloudapi.net",
      "https://management.usgovcloudapi.net/.default")),
    ({"cloud_environment": "AzureChinaCloud"},
     ("https://login.chinacloudapi.cn", True, "https://management.chinacloudapi.cn",
      "https://management.chinacloudapi.cn/.default")),
    # Azure Stack Hub: its own authority (not checked with the public cloud), endpoint and audience.
    ({"authority_host": "adfs.local.azurestack.external",
      "resource_manager_endpoint": "https://management.local.azurestack.external/",
      "audience": "https://management.adfs.azurestack.local/5f3a"},
     ("https://adfs.local.azurestack.external", False, "https://management.local.azurestack.external",
      "https://management.adfs.azurestack.local/5f3a/.default")),
    ({"authority_host": "https://127.0.0.1:8443", "resource_manager_endpoint": "https://127.0.0.1:8443"},
     ("https://127.0.0.1:8443", False, "https://127.0.0.1:8443", "https://127.0.0.1:8443/.default")),
])
def test_endpoints(overrides, want):
    got = settings(**overrides)
    assert (got["authority"], got["instance_discovery"], got["resource_manager"], got["scope"]) == want


def test_tls_verification(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert settings()["verify"] is True
    assert settings(ca_bundle=str(ca))["verify"] == str(ca)
    assert settings(ca_bundle=str(ca), validate_certs=False)["verify"] is False
    with pytest.raises(InvalidInputError, match="ca_bundle .* does not exist"):
        settings(ca_bundle=str(tmp_path / "missing.pem"))


@pytest.mark.parametrize("overrides", [
    {"resource_manager_endpoint": "http://management.azure.com"},
    {"resource_manager_endpoint": "management.azure.com"},
    {"authority_host": "http://login.example"},
    {"timeout": 0},
])
def test_bad_settings(overrides):
    with pytest.raises(InvalidInputError):
        settings(**overrides)


# --- error translation (azure-core exceptions, built as the SDKs raise them) ---------------------------------

exceptions = pytest.importorskip("azure.core.exceptions")


class FakeResponse(object):
    """Just enough of an azure-core HTTP response for HttpResponseError."""

    def __init__(self, status, body):
        self.status_code = status
        self.reason = "Reason"
        self.headers = {"content-type": "application/json"}
        self.request = None
        self._body = body

    def text(self, encoding=None):
        return self._body

    def body(self):
        return self._body.encode()


def translate(exc):
    conf = settings(authority_host="https://login.test", resource_manager_endpoint="https://arm.test")
    with pytest.raises(Exception) as caught:
        with connection.translated_errors(conf):
            raise exc
    return caught.value


def wrapped(outer, inner):
    try:
        try:
            raise inner
        except Exception as cause:
            raise outer from cause
    except Exception as exc:
        return exc


def test_wrong_secret_is_an_authentication_error():
    err = translate(exceptions.ClientAuthenticationError(
        message="Authentication failed: AADSTS7000215: Invalid client secret provided."))
    assert isinstance(err, AuthenticationError)
    assert "AADSTS7000215" in err.message and "AZURE_SECRET" in err.fix


def test_unknown_tenant():
    err = translate(wrapped(exceptions.ClientAuthenticationError(message="Authentication failed: Unable to get"),
                            ValueError("Unable to get authority configuration")))
    assert isinstance(err, AuthenticationError) and "does not know the tenant 'tenant'" in err.message


def test_untrusted_certificate_during_sign_in():
    inner = wrapped(exceptions.ServiceRequestError("ssl"), ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:992)"))
    err = translate(wrapped(exceptions.ClientAuthenticationError(message="Authentication failed: ssl"), inner))
    assert isinstance(err, CertificateError)
    assert err.message == ("The TLS certificate of https://login.test could not be verified: "
                           "certificate verify failed: self-signed certificate.")


def test_unreachable_sign_in_and_resource_manager():
    refused = ConnectionRefusedError(111, "Connection refused")
    err = translate(wrapped(exceptions.ClientAuthenticationError(message="Authentication failed: x"),
                            wrapped(exceptions.ServiceRequestError("no connection"), refused)))
    assert err.result()["error_kind"] == "ConnectionFailedError" and "sign-in endpoint https://login.test" in err.message
    err = translate(wrapped(exceptions.ServiceRequestError("no connection"), refused))
    assert err.result()["error_kind"] == "ConnectionFailedError" and "Resource Manager at https://arm.test" in err.message


@pytest.mark.parametrize("status, code, kind, text", [
    (401, "InvalidAuthenticationToken", AuthenticationError, "refused the access token"),
    (403, "AuthorizationFailed", AuthenticationError, "may not do this in subscription sub"),
    (404, "SubscriptionNotFound", InvalidInputError, "The subscription 'sub' could not be found."),
    (404, "ResourceGroupNotFound", InvalidInputError, "Resource group"),
    (500, "InternalServerError", ConnectionFailedError, "answered 500 (InternalServerError)"),
])
def test_resource_manager_answers(status, code, kind, text):
    messages = {"SubscriptionNotFound": "The subscription 'sub' could not be found."}
    body = '{"error": {"code": "%s", "message": "%s"}}' % (code, messages.get(code, "Resource group x"))
    err = translate(exceptions.HttpResponseError(response=FakeResponse(status, body)))
    assert err.result()["error_kind"] == kind.__name__ and text in err.message
    assert "s3cret-value" not in str(err)
