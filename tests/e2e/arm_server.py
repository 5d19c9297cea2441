"""A small Azure Resource Manager endpoint for tests, spoken to by the REAL azure-identity and
azure-mgmt-compute (no Azure emulator exists for the control plane).

It serves, over TLS on 127.0.0.1 with a certificate the test makes:
  * Microsoft Entra ID for ClientSecretCredential: the tenant's OpenID configuration and the
    client-credentials token endpoint (wrong secret -> 401 invalid_client, like the real one).
    Clients must pass disable_instance_discovery=True (msal would ask the public cloud otherwise).
  * Microsoft.Compute: VMs listed per subscription or resource group with nextLink paging and
    $expand=instanceView / statusOnly=true, VM get (with $expand=instanceView) and instanceView,
    deallocate, disk get, beginGetAccess and endGetAccess; snapshots (create as a full copy of a
    disk, get, delete, beginGetAccess, endGetAccess). Long-running operations answer 202 with
    Azure-AsyncOperation and Location (Retry-After: 0) and finish on the second status poll.
  * Microsoft.Network: network interfaces (list per subscription with paging, get).
Every ARM request needs a bearer token this server issued. The state is built from a compact seed
(see seed_vm) into ARM JSON shaped like Azure's, and can be read and changed by the test.
Disk access is granted through a blob store object (tests/e2e/azurite.py): the SAS it returns names
a stored access policy, and endGetAccess deletes the policy so the SAS stops working. Every SAS handed
out is kept in state.issued, so that a test can check it stops working.
Tests inject faults and races with state.hooks: (method, path regex, fn(state)) run before the request
is handled; fn may change the state or raise ArmError to answer with an error.
"""

from __future__ import annotations

import json
import re
import ssl
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from support import ServerThread

GIB = 1024 ** 3
COMPUTE = "/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\\.Compute"
NETWORK = "/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\\.Network"
OPERATIONS = "/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\\.Compute/locations/(?P<loc>[^/]+)"
POWER_DISPLAY = {"running": "VM running", "deallocated": "VM deallocated", "stopped": "VM stopped",
                 "deallocating": "VM deallocating", "starting": "VM starting", "stopping": "VM stopping"}


class ArmError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _arm_id(sub, rg, provider, kind, name):
    return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s" % (sub, rg, provider, kind, name)


def seed_vm(sub, spec):
    """(vm, disks, nics): ARM JSON for one VM of a compact spec:
    {name, resource_group, location, size, power: running|deallocated|stopped, os_type: Linux|Windows,
     image: (publisher, offer, sku, version), security: TrustedLaunch|None, generation: V1|V2,
     os_disk_gb, data_disks: [{lun, size_gb, caching}], nics: [{mac, ip}], tags, os_name, os_version}"""
    name, rg, loc = spec["name"], spec["resource_group"], spec.get("location", "westeurope")
    vm_id = _arm_id(sub, rg, "Microsoft.Compute", "virtualMachines", name)
    generation = spec.get("generation", "V2")
    security = spec.get("security")
    disks = []

    def disk(disk_name, size_gb, os_disk):
        disk_id = _arm_id(sub, rg, "Microsoft.Compute", "disks", disk_name)
        props = {"diskSizeGB": size_gb, "diskSizeBytes": size_gb * GIB, "uniqueId": str(uuid.uuid4()),
                 "provisioningState": "Succeeded", "diskState": "Attached", "networkAccessPolicy": "AllowAll",
                 "timeCreated": "2024-05-02T08:15:27.5731234+00:00", "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                 "creationData": {"createOption": "FromImage" if os_disk else "Empty"}}
        if os_disk:
            props.update(osType=spec.get("os_type", "Linux"), hyperVGeneration=generation)
            if security:
                props["securityProfile"] = {"securityType": security}
        sku = spec.get("sku", "Premium_LRS")
        disks.append({"name": disk_name, "id": disk_id, "type": "Microsoft.Compute/disks", "location": loc,
                      "managedBy": vm_id, "sku": {"name": sku, "tier": sku.split("_")[0]}, "properties": props})
        return disk_id

    suffix = uuid.uuid5(uuid.NAMESPACE_URL, vm_id).hex
    os_disk_name = "%s_OsDisk_1_%s" % (name, suffix)
    os_disk = {"osType": spec.get("os_type", "Linux"), "name": os_disk_name, "createOption": "FromImage",
               "caching": "ReadWrite", "deleteOption": "Delete", "diskSizeGB": spec.get("os_disk_gb", 30),
               "managedDisk": {"storageAccountType": spec.get("sku", "Premium_LRS"),
                               "id": disk(os_disk_name, spec.get("os_disk_gb", 30), True)}}
    data_disks = []
    for dd in spec.get("data_disks", []):
        dd_name = "%s_DataDisk_%d" % (name, dd["lun"])
        data_disks.append({"lun": dd["lun"], "name": dd_name, "createOption": "Attach",
                           "caching": dd.get("caching", "None"), "writeAcceleratorEnabled": False,
                           "deleteOption": "Detach", "toBeDetached": False, "diskSizeGB": dd["size_gb"],
                           "managedDisk": {"storageAccountType": "StandardSSD_LRS",
                                           "id": disk(dd_name, dd["size_gb"], False)}})
    nics, nic_refs = [], []
    for index, nic in enumerate(spec.get("nics", [{}])):
        nic_name = "%s-nic%d" % (name, index)
        nic_id = _arm_id(sub, rg, "Microsoft.Network", "networkInterfaces", nic_name)
        subnet = _arm_id(sub, rg, "Microsoft.Network", "virtualNetworks", rg + "-vnet") + "/subnets/default"
        nic_refs.append({"id": nic_id, "properties": {"primary": index == 0}})
        props = {"primary": index == 0, "enableAcceleratedNetworking": nic.get("accelerated", False),
                 "virtualMachine": {"id": vm_id}, "provisioningState": "Succeeded",
                 "ipConfigurations": [{"name": "ipconfig1", "id": nic_id + "/ipConfigurations/ipconfig1",
                                       "properties": {"privateIPAddress": nic.get("ip", "10.0.0.%d" % (4 + index)),
                                                      "privateIPAllocationMethod": "Dynamic",
                                                      "privateIPAddressVersion": "IPv4", "primary": True,
                                                      "subnet": {"id": subnet}}}]}
        if nic.get("mac"):
            props["macAddress"] = nic["mac"]
        nics.append({"name": nic_name, "id": nic_id, "type": "Microsoft.Network/networkInterfaces",
                     "location": loc, "properties": props})
    image = spec.get("image")
    storage = {"osDisk": os_disk, "dataDisks": data_disks, "diskControllerType": "SCSI"}
    if image:
        storage["imageReference"] = dict(zip(("publisher", "offer", "sku", "version"), image))
        storage["imageReference"]["exactVersion"] = "2024.0412.01"
    linux = spec.get("os_type", "Linux") == "Linux"
    props = {
        "vmId": str(uuid.uuid5(uuid.NAMESPACE_DNS, vm_id)),
        "hardwareProfile": {"vmSize": spec.get("size", "Standard_D2s_v5")},
        "storageProfile": storage,
        "osProfile": {"computerName": spec.get("computer_name", name), "adminUsername": "azureuser",
                      "secrets": [], "allowExtensionOperations": True,
                      ("linuxConfiguration" if linux else "windowsConfiguration"):
                          {"disablePasswordAuthentication": True, "provisionVMAgent": True} if linux
                          else {"provisionVMAgent": True, "enableAutomaticUpdates": True}},
        "networkProfile": {"networkInterfaces": nic_refs},
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
        "provisioningState": "Succeeded",
        "timeCreated": "2024-05-02T08:15:20.1234567+00:00",
    }
    if security:
        props["securityProfile"] = {"securityType": security,
                                    "uefiSettings": {"secureBootEnabled": spec.get("secure_boot", True),
                                                     "vTpmEnabled": True}}
    vm = {"name": name, "id": vm_id, "type": "Microsoft.Compute/virtualMachines", "location": loc,
          "tags": dict(spec.get("tags", {})), "properties": props,
          # Not ARM fields: what the instance view is built from (dropped when served).
          "_power": spec.get("power", "running"), "_generation": generation,
          "_os": (spec.get("os_name"), spec.get("os_version"))}
    return vm, disks, nics


class ArmState:
    """What the endpoint knows; every access holds self.lock."""

    def __init__(self, tenant, subscription, client_id, client_secret, vms, page_size=2, blob_store=None):
        self.lock = threading.Lock()
        self.tenant, self.subscription = tenant, subscription
        self.client_id, self.client_secret = client_id, client_secret
        self.page_size = page_size
        self.blob_store = blob_store
        self.vms, self.disks, self.nics = {}, {}, {}
        self.tokens = set()
        self.operations = {}
        self.snapshots = {}
        self.issued = []    # every SAS URL granted, in order
        self.hooks = []     # (method, path regex, fn(state)) run before a matching request is handled
        self.requests = []  # (method, path, query dict) of every request, for assertions
        self.forbidden = []  # path regexes answered 403 AuthorizationFailed (a principal without that role)
        self.scopes = []    # scopes asked for at the token endpoint
        for spec in vms:
            vm, disks, nics = seed_vm(subscription, spec)
            self.vms[vm["id"].lower()] = vm
            self.disks.update((d["id"].lower(), d) for d in disks)
            self.nics.update((n["id"].lower(), n) for n in nics)

    def _find(self, table, provider, kind, rg, name):
        found = table.get(_arm_id(self.subscription, rg, provider, kind, name).lower())
        if found is None:
            raise ArmError(404, "ResourceNotFound", "The Resource '%s/%s/%s' under resource group '%s' was not "
                           "found." % (provider, kind, name, rg))
        return found

    def vm(self, rg, name):
        return self._find(self.vms, "Microsoft.Compute", "virtualMachines", rg, name)

    def disk(self, rg, name):
        return self._find(self.disks, "Microsoft.Compute", "disks", rg, name)

    def nic(self, rg, name):
        return self._find(self.nics, "Microsoft.Network", "networkInterfaces", rg, name)

    def power(self, rg, name):
        with self.lock:
            return self.vm(rg, name)["_power"]

    def set_power(self, rg, name, power):
        """Put a VM in a power state at once, its disks following (Attached / Reserved)."""
        with self.lock:
            vm = self.vm(rg, name)
            vm["_power"] = power
            for disk in self.disks.values():
                if disk.get("managedBy") == vm["id"]:
                    disk["properties"]["diskState"] = "Reserved" if power == "deallocated" else "Attached"


def served_vm(vm, instance_view):
    out = {k: v for k, v in vm.items() if not k.startswith("_")}
    out["properties"] = dict(vm["properties"])
    if instance_view:
        statuses = [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
                     "time": "2024-05-02T08:16:41.1234567+00:00"},
                    {"code": "PowerState/" + vm["_power"], "level": "Info",
                     "displayStatus": POWER_DISPLAY.get(vm["_power"], vm["_power"])}]
        view = {"computerName": vm["properties"]["osProfile"]["computerName"],
                "hyperVGeneration": vm["_generation"], "statuses": statuses}
        os_name, os_version = vm["_os"]
        if os_name and vm["_power"] == "running":  # the VM agent reports these while it runs
            view.update(osName=os_name, osVersion=os_version)
        out["properties"]["instanceView"] = view
    return out


class ArmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "h2k-arm/1"

    # ---- plumbing ------------------------------------------------------------------------------------------
    @property
    def state(self) -> ArmState:
        return self.server.state

    def log_message(self, *args):  # quiet; requests are recorded in state.requests
        pass

    def _send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _base(self):
        return "https://%s:%d" % self.server.server_address[:2]

    def _dispatch(self, method):
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.state.lock:
            self.state.requests.append((method, parts.path, query))
        for route_method, pattern, handler in ROUTES:
            match = re.fullmatch(pattern, parts.path, re.IGNORECASE)
            if route_method == method and match:
                break
        else:
            return self._send(404, {"error": {"code": "NotFound", "message": "No route for %s %s" % (method, parts.path)}})
        try:
            if not handler.__name__.startswith("entra_"):
                self._check_arm(match, query)
            with self.state.lock:
                hooks = [fn for m, regex, fn in self.state.hooks if m == method and re.search(regex, parts.path, re.I)]
            for fn in hooks:
                fn(self.state)
            status, answer, headers = handler(self, match.groupdict(), query, body)
        except ArmError as exc:
            return self._send(exc.status, {"error": {"code": exc.code, "message": exc.message}})
        return self._send(status, answer, headers)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _check_arm(self, match, query):
        auth = self.headers.get("Authorization", "")
        with self.state.lock:
            known = auth.startswith("Bearer ") and auth[7:] in self.state.tokens
        if not known:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is missing or invalid.")
        if "api-version" not in query:
            raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
        sub = match.groupdict().get("sub")
        if sub is not None and sub.lower() != self.state.subscription.lower():
            raise ArmError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % sub)
        path = urlsplit(self.path).path
        with self.state.lock:
            denied = any(re.search(pattern, path, re.IGNORECASE) for pattern in self.state.forbidden)
        if denied:
            raise ArmError(403, "AuthorizationFailed", "The client '%s' does not have authorization to perform "
                           "this action over scope '%s'." % (self.state.client_id, path))

    # ---- Microsoft Entra ID ----------------------------------------------------------------------------------
    def entra_openid(self, args, query, body):
        tenant = args["tenant"]
        if tenant.lower() != self.state.tenant.lower():
            return 400, {"error": "invalid_tenant",
                         "error_description": "AADSTS90002: Tenant '%s' not found." % tenant}, None
        base = "%s/%s" % (self._base(), tenant)
        return 200, {"token_endpoint": base + "/oauth2/v2.0/token",
                     "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                     "issuer": "%s/%s/v2.0" % (self._base(), tenant),
                     "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                     "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                     "tenant_region_scope": "EU"}, None

    def entra_token(self, args, query, body):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        state = self.state
        if form.get("client_id") != state.client_id:
            return 400, {"error": "unauthorized_client",
                         "error_description": "AADSTS700016: Application with identifier '%s' was not found in "
                                              "the directory '%s'." % (form.get("client_id"), args["tenant"])}, None
        if form.get("client_secret") != state.client_secret:
            return 401, {"error": "invalid_client",
                         "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret "
                                              "being sent in the request is the client secret value, not the "
                                              "client secret ID."}, None
        token = uuid.uuid4().hex
        with state.lock:
            state.tokens.add(token)
            state.scopes.append(form.get("scope"))
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}, None

    # ---- Microsoft.Compute: virtual machines -----------------------------------------------------------------
    def _page(self, items, query):
        start = int(query.get("$skiptoken", 0))
        end = start + self.state.page_size
        answer = {"value": items[start:end]}
        if end < len(items):
            next_query = dict(query, **{"$skiptoken": str(end)})
            answer["nextLink"] = "%s%s?%s" % (self._base(), urlsplit(self.path).path, urlencode(next_query))
        return answer

    def _vm_list(self, rg, query):
        expand = query.get("$expand", "").lower() == "instanceview" or query.get("statusOnly", "").lower() == "true"
        prefix = "/subscriptions/%s/" % self.state.subscription.lower()
        if rg:
            prefix += "resourcegroups/%s/" % rg.lower()
        with self.state.lock:
            if rg and not any(k.startswith(prefix) for k in self.state.vms):
                raise ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)
            items = [served_vm(vm, expand) for key, vm in sorted(self.state.vms.items()) if key.startswith(prefix)]
        return 200, self._page(items, query), None

    def vm_list_all(self, args, query, body):
        return self._vm_list(None, query)

    def vm_list(self, args, query, body):
        return self._vm_list(args["rg"], query)

    def vm_get(self, args, query, body):
        with self.state.lock:
            vm = served_vm(self.state.vm(args["rg"], args["name"]), query.get("$expand", "").lower() == "instanceview")
        return 200, vm, None

    def vm_instance_view(self, args, query, body):
        with self.state.lock:
            vm = served_vm(self.state.vm(args["rg"], args["name"]), True)
        return 200, vm["properties"]["instanceView"], None

    def vm_deallocate(self, args, query, body):
        with self.state.lock:
            vm = self.state.vm(args["rg"], args["name"])
            vm["_power"] = "deallocating"

        def finish():
            vm["_power"] = "deallocated"
            for disk in self.state.disks.values():
                if disk.get("managedBy") == vm["id"] and disk["properties"]["diskState"] == "Attached":
                    disk["properties"]["diskState"] = "Reserved"
            return None
        return self._start_operation(vm["location"], finish, query["api-version"])

    # ---- Microsoft.Compute: disks ------------------------------------------------------------------------------
    def disk_get(self, args, query, body):
        with self.state.lock:
            return 200, dict(self.state.disk(args["rg"], args["name"])), None

    def disk_grant(self, args, query, body):
        with self.state.lock:
            disk = self.state.disk(args["rg"], args["name"])
            owner = self.state.vms.get((disk.get("managedBy") or "").lower())
            if owner is not None and owner["_power"] != "deallocated":
                raise ArmError(409, "OperationNotAllowed",
                               "Operation 'beginGetAccess' is not allowed on disk '%s' since it is attached to a "
                               "VM that is not deallocated ('%s')." % (disk["name"], owner["_power"]))
        return self._grant(disk, body, query)

    def disk_revoke(self, args, query, body):
        with self.state.lock:
            disk = self.state.disk(args["rg"], args["name"])
        return self._revoke(disk, query, "Reserved" if disk.get("managedBy") else "Unattached")

    def _grant(self, resource, body, query):
        request = json.loads(body or b"{}")
        if request.get("access", "").lower() not in ("read", "write"):
            raise ArmError(400, "InvalidParameter", "The value of parameter access is invalid.")
        if self.state.blob_store is None:
            raise ArmError(409, "OperationNotAllowed", "This test endpoint has no blob store for disk access.")

        def finish():
            sas = self.state.blob_store.grant(resource["name"], int(request.get("durationInSeconds", 3600)))
            resource["properties"]["diskState"] = "ActiveSAS"
            self.state.issued.append(sas)
            return {"accessSAS": sas}
        return self._start_operation(resource["location"], finish, query["api-version"])

    def _revoke(self, resource, query, state_after):
        def finish():
            if self.state.blob_store is not None:
                self.state.blob_store.revoke(resource["name"])
            if resource["properties"]["diskState"] == "ActiveSAS":
                resource["properties"]["diskState"] = state_after
            return None
        return self._start_operation(resource["location"], finish, query["api-version"])

    # ---- Microsoft.Compute: snapshots --------------------------------------------------------------------------
    def snapshot_put(self, args, query, body):
        request = json.loads(body or b"{}")
        source_id = ((request.get("properties") or {}).get("creationData") or {}).get("sourceResourceId") or ""
        snap_id = _arm_id(self.state.subscription, args["rg"], "Microsoft.Compute", "snapshots", args["name"])
        with self.state.lock:
            source = self.state.disks.get(source_id.lower())
            if source is None:
                raise ArmError(404, "NotFound", "Source resource '%s' was not found." % source_id)
            props = {"creationData": {"createOption": "Copy", "sourceResourceId": source["id"]},
                     "diskSizeGB": source["properties"]["diskSizeGB"],
                     "diskSizeBytes": source["properties"]["diskSizeBytes"], "uniqueId": str(uuid.uuid4()),
                     "provisioningState": "Creating", "diskState": "Unattached",
                     "incremental": bool((request.get("properties") or {}).get("incremental"))}
            snapshot = {"name": args["name"], "id": snap_id, "type": "Microsoft.Compute/snapshots",
                        "location": request.get("location") or source["location"], "tags": request.get("tags") or {},
                        "sku": {"name": "Standard_LRS", "tier": "Standard"}, "properties": props}
            self.state.snapshots[snap_id.lower()] = snapshot

        def finish():
            if self.state.blob_store is not None:
                self.state.blob_store.copy(source["name"], snapshot["name"])
            props["provisioningState"] = "Succeeded"
            return None
        return self._start_operation(snapshot["location"], finish, query["api-version"])

    def _snapshot(self, args):
        return self.state._find(self.state.snapshots, "Microsoft.Compute", "snapshots", args["rg"], args["name"])

    def snapshot_get(self, args, query, body):
        with self.state.lock:
            return 200, dict(self._snapshot(args)), None

    def snapshot_delete(self, args, query, body):
        snap_id = _arm_id(self.state.subscription, args["rg"], "Microsoft.Compute", "snapshots", args["name"])
        with self.state.lock:
            snapshot = self.state.snapshots.get(snap_id.lower())
        if snapshot is None:
            return 204, None, None

        def finish():  # runs with the state lock held
            self.state.snapshots.pop(snap_id.lower(), None)
            if self.state.blob_store is not None:
                self.state.blob_store.delete(snapshot["name"])
            return None
        return self._start_operation(snapshot["location"], finish, query["api-version"])

    def snapshot_grant(self, args, query, body):
        with self.state.lock:
            snapshot = self._snapshot(args)
        return self._grant(snapshot, body, query)

    def snapshot_revoke(self, args, query, body):
        with self.state.lock:
            snapshot = self._snapshot(args)
        return self._revoke(snapshot, query, "Unattached")

    # ---- long-running operations -------------------------------------------------------------------------------
    def _start_operation(self, location, finish, api_version):
        op_id = str(uuid.uuid4())
        with self.state.lock:
            self.state.operations[op_id] = {"finish": finish, "done": False, "result": None, "polls": 0}
        base = "%s/subscriptions/%s/providers/Microsoft.Compute/locations/%s" % (
            self._base(), self.state.subscription, location)
        suffix = "?api-version=%s" % api_version
        return 202, None, {"Azure-AsyncOperation": "%s/operations/%s%s" % (base, op_id, suffix),
                           "Location": "%s/operationResults/%s%s" % (base, op_id, suffix), "Retry-After": "0"}

    def _operation(self, op_id, advance):
        with self.state.lock:
            op = self.state.operations.get(op_id)
            if op is None:
                raise ArmError(404, "NotFound", "Operation %s not found." % op_id)
            if advance and not op["done"]:
                op["polls"] += 1
                if op["polls"] > 1:  # the first poll sees it in progress, the next one finished
                    op["result"] = op["finish"]()
                    op["done"] = True
            return dict(op)

    def operation_status(self, args, query, body):
        op = self._operation(args["op"], advance=True)
        status = "Succeeded" if op["done"] else "InProgress"
        return 200, {"name": args["op"], "status": status, "startTime": "2024-05-02T08:20:00+00:00"}, \
            {"Retry-After": "0"}

    def operation_result(self, args, query, body):
        op = self._operation(args["op"], advance=False)
        if not op["done"]:
            return 202, None, {"Location": self._base() + self.path, "Retry-After": "0"}
        return 200, op["result"], None

    # ---- Microsoft.Network -------------------------------------------------------------------------------------
    def nic_list_all(self, args, query, body):
        with self.state.lock:
            items = [dict(self.state.nics[key]) for key in sorted(self.state.nics)]
        return 200, self._page(items, query), None

    def nic_get(self, args, query, body):
        with self.state.lock:
            return 200, dict(self.state.nic(args["rg"], args["name"])), None


ROUTES = [
    ("GET", "/(?P<tenant>[^/]+)/v2\\.0/\\.well-known/openid-configuration", ArmHandler.entra_openid),
    ("POST", "/(?P<tenant>[^/]+)/oauth2/v2\\.0/token", ArmHandler.entra_token),
    ("GET", "/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\\.Compute/virtualMachines", ArmHandler.vm_list_all),
    ("GET", COMPUTE + "/virtualMachines", ArmHandler.vm_list),
    ("GET", COMPUTE + "/virtualMachines/(?P<name>[^/]+)", ArmHandler.vm_get),
    ("GET", COMPUTE + "/virtualMachines/(?P<name>[^/]+)/instanceView", ArmHandler.vm_instance_view),
    ("POST", COMPUTE + "/virtualMachines/(?P<name>[^/]+)/deallocate", ArmHandler.vm_deallocate),
    ("GET", COMPUTE + "/disks/(?P<name>[^/]+)", ArmHandler.disk_get),
    ("POST", COMPUTE + "/disks/(?P<name>[^/]+)/beginGetAccess", ArmHandler.disk_grant),
    ("POST", COMPUTE + "/disks/(?P<name>[^/]+)/endGetAccess", ArmHandler.disk_revoke),
    ("PUT", COMPUTE + "/snapshots/(?P<name>[^/]+)", ArmHandler.snapshot_put),
    ("GET", COMPUTE + "/snapshots/(?P<name>[^/]+)", ArmHandler.snapshot_get),
    ("DELETE", COMPUTE + "/snapshots/(?P<name>[^/]+)", ArmHandler.snapshot_delete),
    ("POST", COMPUTE + "/snapshots/(?P<name>[^/]+)/beginGetAccess", ArmHandler.snapshot_grant),
    ("POST", COMPUTE + "/snapshots/(?P<name>[^/]+)/endGetAccess", ArmHandler.snapshot_revoke),
    ("GET", OPERATIONS + "/operations/(?P<op>[^/]+)", ArmHandler.operation_status),
    ("GET", OPERATIONS + "/operationResults/(?P<op>[^/]+)", ArmHandler.operation_result),
    ("GET", "/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\\.Network/networkInterfaces", ArmHandler.nic_list_all),
    ("GET", NETWORK + "/networkInterfaces/(?P<name>[^/]+)", ArmHandler.nic_get),
]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """Clients that refuse our certificate or hang up are part of the tests, not server errors."""
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            super().handle_error(request, client_address)


class ArmServer(ServerThread):
    """The endpoint on a free 127.0.0.1 port in a thread of the test process. Context manager."""

    thread_name = "arm-server"

    def __init__(self, state: ArmState, cert: str, key: str):
        super().__init__(_QuietServer(("127.0.0.1", 0), ArmHandler))
        self.state = state
        self.httpd.state = state
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        # Handshakes happen in the request threads, so a client that fails one cannot stall the server.
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def url(self) -> str:
        return "https://127.0.0.1:%d" % self.httpd.server_address[1]

    def requests_to(self, pattern):
        """The recorded (method, path, query) whose path matches the regular expression."""
        with self.state.lock:
            return [r for r in self.state.requests if re.search(pattern, r[1], re.IGNORECASE)]
