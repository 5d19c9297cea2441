# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options of every vSphere plugin (built by module_utils _sources/vsphere/connection.argument_spec)."""

    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - Name or address of the vCenter Server or ESXi host.
      - If not set, the value of the E(VMWARE_HOST) environment variable is used (AWX and Automation
        Platform set it from a VMware vCenter credential).
    type: str
    required: true
  username:
    description:
      - User to log in as, for example V(administrator@vsphere.local).
      - If not set, the value of the E(VMWARE_USER) environment variable is used.
      - Read-only access to the inventory is enough for discovery.
    type: str
    required: true
    aliases: [user]
  password:
    description:
      - Password of O(username).
      - If not set, the value of the E(VMWARE_PASSWORD) environment variable is used.
      - Never logged or returned.
    type: str
    required: true
    aliases: [pass]
  port:
    description:
      - HTTPS port of the vSphere API.
      - If not set, the value of the E(VMWARE_PORT) environment variable is used, else V(443).
    type: int
    default: 443
  validate_certs:
    description:
      - Verify the server's TLS certificate and host name.
      - If not set, the value of the E(VMWARE_VALIDATE_CERTS) environment variable is used, else V(true).
      - Keep it on in production; give the CA in O(ca_bundle) when the certificate is not signed by a
        CA of the system trust store (vCenter's own VMCA, a self-signed ESXi certificate).
      - V(false) accepts any certificate, which lets anyone in the network path read the password.
    type: bool
    default: true
  ca_bundle:
    description:
      - PEM file (or directory of hashed certificates) with the CA certificates that signed the
        server's certificate; used instead of the system trust store.
      - Ignored when O(validate_certs=false).
    type: path
  proxy_host:
    description:
      - HTTP proxy to tunnel the connection through (HTTP CONNECT). Requires O(proxy_port).
      - TLS still runs end to end with the server and is verified as usual.
    type: str
  proxy_port:
    description:
      - Port of O(proxy_host).
    type: int
requirements:
  - pyvmomi >= 8.0 (Python library, installed on the host that runs the module)
notes:
  - The connection options fall back to the environment variables that the VMware vCenter
    credential type of AWX and Automation Platform injects, so jobs need no extra configuration.
"""
