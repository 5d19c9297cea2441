# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options of every Azure plugin (built by module_utils _sources/azure/connection.argument_spec)."""

    DOCUMENTATION = r"""
options:
  subscription_id:
    description:
      - ID of the Azure subscription that holds the virtual machines.
      - If not set, the value of the E(AZURE_SUBSCRIPTION_ID) environment variable is used (AWX and
        Automation Platform set it from a Microsoft Azure Resource Manager credential).
    type: str
    required: true
  tenant:
    description:
      - Directory (tenant) ID or verified domain of the Microsoft Entra ID tenant of the service principal.
      - If not set, the value of the E(AZURE_TENANT) or E(AZURE_TENANT_ID) environment variable is used.
    type: str
    required: true
    aliases: [tenant_id]
  client_id:
    description:
      - Application (client) ID of the service principal to sign in as.
      - If not set, the value of the E(AZURE_CLIENT_ID) environment variable is used.
      - The Reader role on the subscription (or on the resource groups) is enough for discovery.
    type: str
    required: true
  secret:
    description:
      - Client secret of the service principal (its value, not its ID).
      - If not set, the value of the E(AZURE_SECRET) or E(AZURE_CLIENT_SECRET) environment variable is used.
      - Never logged or returned.
    type: str
    required: true
    aliases: [client_secret]
  cloud_environment:
    description:
      - The Azure cloud to sign in to and manage; sets the defaults of O(authority_host) and
        O(resource_manager_endpoint).
      - If not set, the value of the E(AZURE_CLOUD_ENVIRONMENT) environment variable is used, else V(AzureCloud).
    type: str
    default: AzureCloud
    choices: [AzureCloud, AzureChinaCloud, AzureUSGovernment]
  authority_host:
    description:
      - Microsoft Entra ID (or AD FS) sign-in endpoint, for example V(https://login.microsoftonline.us);
        overrides the one of O(cloud_environment). Needed for Azure Stack Hub and other private clouds.
      - If not set, the value of the E(AZURE_AUTHORITY_HOST) environment variable is used.
      - For a host that is not the sign-in endpoint of one of the O(cloud_environment) choices, the
        authority is not checked with the public cloud first (instance discovery is off).
    type: str
  resource_manager_endpoint:
    description:
      - Azure Resource Manager endpoint, for example V(https://management.local.azurestack.external);
        overrides the one of O(cloud_environment).
    type: str
  audience:
    description:
      - Audience (resource) the access token is asked for; the token scope is this value followed by
        C(/.default).
      - Defaults to the Resource Manager endpoint. Azure Stack Hub publishes its own in the
        C(authentication.audiences) of its C(/metadata/endpoints) document.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificates of the sign-in and Resource Manager endpoints.
      - V(false) accepts any certificate, which lets anyone in the network path steal the secret and
        the access token. Use it on a lab system only.
    type: bool
    default: true
  ca_bundle:
    description:
      - PEM file with the CA certificates to trust instead of the default trust store, for both the
        sign-in and the Resource Manager endpoints (Azure Stack Hub, a TLS-inspecting proxy). It must
        hold every CA needed.
      - Takes precedence over the E(REQUESTS_CA_BUNDLE) environment variable.
      - Ignored when O(validate_certs=false).
    type: path
  timeout:
    description:
      - Seconds to wait for a connection and for each answer. Failed connections, throttling and
        server errors are retried three times with backoff.
    type: int
    default: 60
requirements:
  - azure-identity >= 1.15 and azure-mgmt-compute >= 30 (Python libraries, installed on the host that runs the module)
notes:
  - The connection options fall back to the environment variables that the Microsoft Azure Resource
    Manager credential type of AWX and Automation Platform injects, so jobs need no extra configuration.
  - Sign-in is with a service principal and its client secret (azure-identity's C(ClientSecretCredential)).
"""
