# -*- coding: utf-8 -*-
# Copyright: hyper2kvm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sessions with vCenter or ESXi through pyVmomi, and the connection options every vSphere plugin shares.

argument_spec() is the one definition of the connection options (documented once, in the
hyper2kvm.migrate.vsphere doc fragment). session() opens a logged-in ServiceInstance with an SSL
context built here, so that TLS verification depends on our options only: certificates are
verified by default, against ca_bundle when given. Every pyVmomi, TLS and socket error is turned
into a ConnectionFailedError (or AuthenticationError, CertificateError) that says what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import ssl

from ansible.module_utils.common.parameters import env_fallback
from ansible.module_utils.six.moves import http_client

from ansible_collections.hyper2kvm.migrate.plugins.module_utils._errors import (
    AuthenticationError,
    CertificateError,
    ConnectionFailedError,
    InvalidInputError,
    MigrationError,
    MissingDependencyError,
)

try:
    from pyVim import connect as pyvim_connect
    from pyVmomi import vim, vmodl
except ImportError:
    pyvim_connect = vim = vmodl = None

PYVMOMI_LIB = "pyvmomi"


def argument_spec():
    """The vSphere connection options, with the environment variables AWX's VMware credential sets."""
    return dict(
        hostname=dict(type="str", required=True, fallback=(env_fallback, ["VMWARE_HOST"])),
        username=dict(type="str", required=True, aliases=["user"],
                      fallback=(env_fallback, ["VMWARE_USER"])),
        password=dict(type="str", required=True, no_log=True, aliases=["pass"],
                      fallback=(env_fallback, ["VMWARE_PASSWORD"])),
        port=dict(type="int", default=443, fallback=(env_fallback, ["VMWARE_PORT"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["VMWARE_VALIDATE_CERTS"])),
        ca_bundle=dict(type="path"),
        proxy_host=dict(type="str"),
        proxy_port=dict(type="int"),
    )


def connection_params(params):
    """The connection options out of a module's params, as keyword arguments for session()."""
    return dict((key, params.get(key)) for key in argument_spec())


def endpoint(hostname, port):
    return "%s:%s" % (hostname, port)


def ssl_context(validate_certs=True, ca_bundle=None):
    """Verify against ca_bundle (a PEM file or a directory of hashed certificates) when given, else
    against the system's trust store; validate_certs=False turns verification off."""
    if not validate_certs:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if not ca_bundle:
        return ssl.create_default_context()
    if not os.path.exists(ca_bundle):
        raise InvalidInputError("ca_bundle %s does not exist." % ca_bundle,
                                fix="Point ca_bundle at the PEM file of the CA that signed the vCenter certificate.")
    try:
        if os.path.isdir(ca_bundle):
            return ssl.create_default_context(capath=ca_bundle)
        return ssl.create_default_context(cafile=ca_bundle)
    except (ssl.SSLError, OSError) as exc:
        raise InvalidInputError("ca_bundle %s holds no usable certificate: %s." % (ca_bundle, exc),
                                fix="Give a PEM file with one or more CA certificates.")


@contextlib.contextmanager
def translated_errors(where):
    """Turn what pyVmomi, TLS and sockets raise while talking to `where` into MigrationErrors."""
    try:
        yield
    except MigrationError:
        raise
    except vim.fault.InvalidLogin:
        raise AuthenticationError(
            "%s refused the login: wrong user name or password." % where,
            fix="Check username and password (or VMWARE_USER and VMWARE_PASSWORD); "
                "vCenter SSO users need their domain, e.g. administrator@vsphere.local.")
    except ssl.SSLCertVerificationError as exc:
        raise CertificateError(
            "The TLS certificate of %s could not be verified: %s." % (where, exc.verify_message or exc),
            fix="Give the CA that signed it in ca_bundle (for vCenter, the VMCA root from "
                "https://<vcenter>/certs/download.zip), or set validate_certs: false on a lab system only.")
    except ssl.SSLError as exc:
        raise ConnectionFailedError("TLS with %s failed: %s." % (where, exc),
                                    fix="Check that hostname and port point at the HTTPS endpoint of vCenter or ESXi.")
    except vmodl.MethodFault as exc:
        raise ConnectionFailedError("%s answered with the fault %s: %s" % (where, type(exc).__name__, exc.msg),
                                    fix="Check that the user may read the inventory (System.View, System.Read).")
    except (OSError, http_client.HTTPException) as exc:
        raise ConnectionFailedError("Cannot talk to %s: %s." % (where, exc or type(exc).__name__),
                                    fix="Check hostname, port and proxy settings, and that vCenter or ESXi "
                                        "is reachable from this host.")


def _open(hostname, username, password, port, context, proxy_host, proxy_port):
    """A logged-in ServiceInstance; anything but our own errors is reported as a failed connection."""
    where = endpoint(hostname, port)
    with translated_errors(where):
        try:
            return pyvim_connect.SmartConnect(host=hostname, user=username, pwd=password, port=port,
                                              sslContext=context, httpProxyHost=proxy_host,
                                              httpProxyPort=proxy_port)
        except (vmodl.MethodFault, OSError, http_client.HTTPException, MigrationError):
            raise
        except Exception as exc:  # pyVmomi raises bare Exception when the server is not a vSphere API
            raise ConnectionFailedError("%s does not answer like vCenter or ESXi: %s" % (where, exc),
                                        fix="Check that hostname and port point at vCenter or ESXi.")


@contextlib.contextmanager
def session(hostname, username, password, port=443, validate_certs=True, ca_bundle=None,
            proxy_host=None, proxy_port=None):
    """A logged-in vim.ServiceInstance for the duration of the block; logs out afterwards."""
    if pyvim_connect is None:
        raise MissingDependencyError("The Python library pyVmomi is missing.", fix="pip install pyvmomi")
    if proxy_host and not proxy_port:
        raise InvalidInputError("proxy_host is set but proxy_port is not.", fix="Give the proxy's port in proxy_port.")
    si = _open(hostname, username, password, port, ssl_context(validate_certs, ca_bundle),
               proxy_host, proxy_port)
    try:
        yield si
    finally:
        try:
            pyvim_connect.Disconnect(si)
        except Exception:  # logging out of a session that broke off must not hide the real error
            pass
