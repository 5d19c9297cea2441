# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure Resource Manager clients and the connection options every Azure plugin shares.

argument_spec() is the one definition of the connection options (documented once, in the
hyper2kvm.migrate.azure doc fragment). settings() turns them into endpoints and a TLS choice;
session() opens a ComputeManagementClient signed in with a service principal (azure-identity's
ClientSecretCredential). translated_errors() is the one place where what the SDKs raise becomes a
ConnectionFailedError, AuthenticationError, CertificateError or InvalidInputError.

TLS: the SDKs use requests, which reads REQUESTS_CA_BUNDLE when a client verifies with the default
trust store. A ca_bundle is therefore handed to both clients explicitly (connection_verify=path), which
requests uses instead of that variable; validate_certs=false hands them connection_verify=False.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import logging
import os

from ansible.module_utils.common.parameters import env_fallback
from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    AuthenticationError,
    CertificateError,
    ConnectionFailedError,
    InvalidInputError,
    MigrationError,
)

try:
    from azure.core import exceptions as azure_exceptions
    from azure.core.rest import HttpRequest
    from azure.identity import ClientSecretCredential
    from azure.mgmt.compute import ComputeManagementClient
except ImportError:
    azure_exceptions = HttpRequest = ClientSecretCredential = ComputeManagementClient = None

AZURE_LIBS = "azure-identity and azure-mgmt-compute"
# cloud_environment -> (sign-in authority, Resource Manager endpoint)
CLOUDS = {
    "AzureCloud": ("https://login.microsoftonline.com", "https://management.azure.com"),
    "AzureChinaCloud": ("https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn"),
    "AzureUSGovernment": ("https://login.microsoftonline.us", "https://management.usgovcloudapi.net"),
}
RETRIES = 3          # per request, for connection errors, throttling and 5xx (the SDK backs off)
# Seconds between polls of a long-running operation (deallocate, grant access, snapshots) when Azure
# does not say (Retry-After); the SDK's own default of 30 s would add half a minute to every grant.
POLLING_INTERVAL = 2
DEFAULT_TIMEOUT = 60


def argument_spec():
    """The Azure connection options, with the environment variables AWX's Azure credential sets."""
    return dict(
        subscription_id=dict(type="str", required=True, fallback=(env_fallback, ["AZURE_SUBSCRIPTION_ID"])),
        tenant=dict(type="str", required=True, aliases=["tenant_id"],
                    fallback=(env_fallback, ["AZURE_TENANT", "AZURE_TENANT_ID"])),
        client_id=dict(type="str", required=True, fallback=(env_fallback, ["AZURE_CLIENT_ID"])),
        secret=dict(type="str", required=True, no_log=True, aliases=["client_secret"],
                    fallback=(env_fallback, ["AZURE_SECRET", "AZURE_CLIENT_SECRET"])),
        cloud_environment=dict(type="str", default="AzureCloud", choices=sorted(CLOUDS),
                               fallback=(env_fallback, ["AZURE_CLOUD_ENVIRONMENT"])),
        authority_host=dict(type="str", fallback=(env_fallback, ["AZURE_AUTHORITY_HOST"])),
        resource_manager_endpoint=dict(type="str"),
        audience=dict(type="str"),
        validate_certs=dict(type="bool", default=True),
        ca_bundle=dict(type="path"),
        timeout=dict(type="int", default=DEFAULT_TIMEOUT),
    )


def connection_params(params):
    """The connection options out of a module's params, as the argument of settings()."""
    return dict((key, params.get(key)) for key in argument_spec())


def _https_url(value, option):
    url = value.rstrip("/")
    if not url.startswith("https://") or not urlsplit(url).netloc:
        raise InvalidInputError("%s must be an https:// URL, got %r." % (option, value),
                                fix="Give the full URL, for example https://management.azure.com.")
    return url


def settings(params):
    """Endpoints, token scope and TLS verification for the options in params (plain values only)."""
    authority, arm = CLOUDS[params.get("cloud_environment") or "AzureCloud"]
    if params.get("authority_host"):
        host = params["authority_host"]
        authority = _https_url(host if "://" in host else "https://" + host, "authority_host")
    if params.get("resource_manager_endpoint"):
        arm = _https_url(params["resource_manager_endpoint"], "resource_manager_endpoint")
    audience = (params.get("audience") or arm).rstrip("/")
    verify = True
    if not params.get("validate_certs", True):
        verify = False
    elif params.get("ca_bundle"):
        if not os.path.exists(params["ca_bundle"]):
            raise InvalidInputError("ca_bundle %s does not exist." % params["ca_bundle"],
                                    fix="Point ca_bundle at a PEM file with the CA certificates to trust.")
        verify = params["ca_bundle"]
    timeout = DEFAULT_TIMEOUT if params.get("timeout") is None else params["timeout"]
    if timeout < 1:
        raise InvalidInputError("timeout must be at least 1 second, got %d." % timeout)
    known_authorities = [entry[0] for entry in CLOUDS.values()]
    return {
        "subscription_id": params["subscription_id"],
        "tenant": params["tenant"],
        "client_id": params["client_id"],
        "secret": params["secret"],
        "authority": authority,
        # msal checks an unknown authority with the public cloud first; a private one (Azure Stack, a
        # test endpoint) cannot be checked there, so the check is left out for those.
        "instance_discovery": authority in known_authorities,
        "resource_manager": arm,
        "scope": audience + "/.default",
        "verify": verify,
        "timeout": timeout,
    }


def _chain(exc):
    """exc and the exceptions it wraps (cause, context, azure-core's inner_exception), outermost first."""
    seen = []
    while exc is not None and exc not in seen and len(seen) < 10:
        seen.append(exc)
        exc = exc.__cause__ or getattr(exc, "inner_exception", None) or exc.__context__
    return seen


def _certificate_problem(chain):
    """What the TLS layer said about a certificate it could not verify, or None."""
    for exc in chain:
        text = str(exc)
        start = text.find("certificate verify failed")
        if start >= 0:
            return text[start:].split(" (_ssl", 1)[0]
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return text
    return None


def _translate(exc, where):
    """The MigrationError for an exception the SDKs raised while talking to Azure (where = endpoints)."""
    chain = _chain(exc)
    problem = _certificate_problem(chain)
    if problem:
        return CertificateError(
            "The TLS certificate of %s could not be verified: %s." % (where["endpoint"], problem),
            fix="Give the CA that signed it in ca_bundle (Azure Stack Hub, a TLS-inspecting proxy), "
                "or set validate_certs: false on a lab system only.")
    message = (getattr(exc, "message", None) or str(exc)).split("\n")[0]  # the SDK repeats code and message below
    status = getattr(exc, "status_code", None)
    code = getattr(getattr(exc, "error", None), "code", None)
    if isinstance(exc, azure_exceptions.ClientAuthenticationError) and status is None:
        # Raised by azure-identity: the sign-in itself failed.
        if any(isinstance(e, azure_exceptions.ServiceRequestError) for e in chain):
            return ConnectionFailedError(
                "Cannot reach the Azure sign-in endpoint %s: %s" % (where["authority"], chain[-1]),
                fix="Check authority_host / cloud_environment and that this host can reach it (proxy, firewall).")
        if any(isinstance(e, ValueError) for e in chain):
            return AuthenticationError(
                "Azure sign-in at %s does not know the tenant %r." % (where["authority"], where["tenant"]),
                fix="Check tenant (or AZURE_TENANT): the directory (tenant) ID or a verified domain name; "
                    "check authority_host for sovereign clouds and Azure Stack.")
        return AuthenticationError(
            "Azure sign-in refused the service principal: %s" % message.replace("Authentication failed: ", ""),
            fix="Check client_id, secret and tenant (or AZURE_CLIENT_ID, AZURE_SECRET, AZURE_TENANT); "
                "a client secret may have expired.")
    if isinstance(exc, (azure_exceptions.ServiceRequestError, azure_exceptions.ServiceResponseError)):
        return ConnectionFailedError(
            "Cannot talk to Azure Resource Manager at %s: %s" % (where["resource_manager"], chain[-1]),
            fix="Check resource_manager_endpoint / cloud_environment and that this host can reach it.")
    if status == 401:
        return AuthenticationError("Azure Resource Manager refused the access token: %s" % message,
                                   fix="Check audience (Azure Stack Hub) and the tenant of the subscription.")
    if status == 403:
        return AuthenticationError(
            "The service principal may not do this in subscription %s: %s" % (where["subscription_id"], message),
            fix="Give it a role with read access to virtual machines (for example Reader) on the subscription "
                "or resource groups.")
    if status == 404 and code in ("SubscriptionNotFound", "ResourceGroupNotFound", "InvalidSubscriptionId"):
        return InvalidInputError(message,
                                 fix="Check subscription_id (or AZURE_SUBSCRIPTION_ID) and the resource group names.")
    return ConnectionFailedError("Azure Resource Manager answered %s%s: %s" % (
        status or "an error", " (%s)" % code if code else "", message),
        fix="Try again later; if it persists, check the Azure status page and the request in the activity log.")


@contextlib.contextmanager
def translated_errors(conf, fixes=None):
    """Turn what the Azure SDKs raise inside the block into MigrationErrors naming the endpoints.

    fixes maps HTTP statuses to the fix to give instead of the generic one, for operations whose
    permissions or preconditions differ from reading (granting disk access needs another role than
    listing VMs; it is refused with 409 while the disk's VM runs).
    """
    try:
        yield
    except MigrationError:
        raise
    except azure_exceptions.AzureError as exc:
        where = dict(conf, endpoint=conf["resource_manager"])
        if isinstance(exc, azure_exceptions.ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
            where["endpoint"] = conf["authority"]
        error = _translate(exc, where)
        status = getattr(exc, "status_code", None)
        if fixes and status in fixes:
            error.fix = fixes[status]
        raise error


class Session(object):
    """A signed-in ComputeManagementClient (.compute) and the settings it was made from (.conf)."""

    def __init__(self, conf):
        self.conf = conf
        transport = dict(connection_verify=conf["verify"], retry_total=RETRIES,
                         connection_timeout=conf["timeout"], read_timeout=conf["timeout"])
        self.credential = ClientSecretCredential(
            conf["tenant"], conf["client_id"], conf["secret"], authority=conf["authority"],
            disable_instance_discovery=not conf["instance_discovery"], **transport)
        self.compute = ComputeManagementClient(
            self.credential, conf["subscription_id"], base_url=conf["resource_manager"],
            credential_scopes=[conf["scope"]], polling_interval=POLLING_INTERVAL, **transport)

    def get(self, url):
        """GET a Resource Manager path or URL through the compute client's pipeline (sign-in, retries,
        TLS settings), for resources azure-mgmt-compute has no operations for. Its public send_request
        is missing from older releases, hence the pipeline client underneath."""
        if not url.startswith("https://"):
            url = self.conf["resource_manager"] + url
        return self.compute._client.send_request(HttpRequest("GET", url))

    def close(self):
        for client in (self.compute, self.credential):
            try:
                client.close()
            except Exception:  # closing must never hide the real error
                pass


@contextlib.contextmanager
def session(conf):
    """A Session for the settings() in conf, with SDK errors translated, closed afterwards."""
    if ComputeManagementClient is None:
        raise MigrationError("The Python libraries %s are missing." % AZURE_LIBS,
                             fix="pip install azure-identity azure-mgmt-compute")
    # azure-identity logs every failed sign-in as a warning of its own; the translated error says it once.
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    opened = Session(conf)
    try:
        with translated_errors(conf):
            yield opened
    finally:
        opened.close()
