import assert from "node:assert/strict";
import { endpoints, endpointSlice, namedPortService } from "./_test_manifests.ts";
import { defaultService } from "./defaults.ts";
import type { FieldError } from "./errors.ts";
import { validateEndpoints, validateEndpointSlice, validateService } from "./validate_network.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const show = (errors: FieldError[]) => errors.map((e) => `${e.field}: ${e.message}`);

function service(mutate: (s: Any) => void = () => {}): Any {
  const s = namedPortService();
  defaultService(s);
  mutate(s);
  return s;
}

Deno.test("validateService() accepts a Service with a named targetPort", () => {
  assert.deepEqual(validateService(service()), []);
});

Deno.test("validateService() checks ports", () => {
  assert.deepEqual(show(validateService(service((s) => s.spec.ports = []))), ["spec.ports: Required value"]);
  assert.deepEqual(
    show(validateService(service((s) => s.spec.ports.push({ port: 443, protocol: "TCP", targetPort: 443 })))),
    [
      "spec.ports[1].name: Required value",
    ],
  );
  assert.deepEqual(
    show(
      validateService(service((s) => s.spec.ports.push({ name: "name-of-service-port", port: 80, protocol: "TCP" }))),
    ),
    ['spec.ports[1].name: Duplicate value: "name-of-service-port"', 'spec.ports[1]: Duplicate value: "80/TCP"'],
  );
  assert.deepEqual(show(validateService(service((s) => s.spec.ports[0].port = 0))), [
    "spec.ports[0].port: Required value",
  ]);
  assert.deepEqual(show(validateService(service((s) => s.spec.ports[0].protocol = "ICMP"))), [
    'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
  ]);
  assert.deepEqual(show(validateService(service((s) => s.spec.ports[0].targetPort = 99999))), [
    "spec.ports[0].targetPort: Invalid value: 99999: must be between 1 and 65535, inclusive",
  ]);
});

Deno.test("validateService() keeps node ports in 30000-32767 and off ClusterIP Services", () => {
  assert.deepEqual(
    validateService(service((s) => Object.assign(s.spec, { type: "NodePort" }) && (s.spec.ports[0].nodePort = 30080))),
    [],
  );
  assert.deepEqual(
    show(validateService(service((s) => {
      s.spec.type = "NodePort";
      s.spec.ports[0].nodePort = 8080;
    }))),
    ["spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"],
  );
  assert.deepEqual(show(validateService(service((s) => s.spec.ports[0].nodePort = 30080))), [
    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
  ]);
});

Deno.test("validateService() checks cluster IPs, types and affinity", () => {
  assert.deepEqual(validateService(service((s) => s.spec.clusterIP = "None")), []);
  assert.deepEqual(show(validateService(service((s) => s.spec.type = "Ingress"))), [
    'spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
  ]);
  assert.deepEqual(show(validateService(service((s) => s.spec.clusterIP = "10.43.0.1000"))), [
    `spec.clusterIP: Invalid value: "10.43.0.1000": must be empty, 'None', or a valid IP address`,
  ]);
  assert.deepEqual(
    show(
      validateService(service((s) => Object.assign(s.spec, { clusterIP: "10.43.0.10", clusterIPs: ["10.43.0.11"] }))),
    ),
    ['spec.clusterIPs[0]: Invalid value: "10.43.0.11": must be equal to clusterIP'],
  );
  assert.deepEqual(show(validateService({ spec: { type: "ExternalName" } })), ["spec.externalName: Required value"]);
  assert.deepEqual(validateService({ spec: { type: "ExternalName", externalName: "nas.lan" } }), []);
  assert.deepEqual(show(validateService(service((s) => s.spec.sessionAffinity = "Sticky"))), [
    'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"',
  ]);
  assert.deepEqual(
    show(validateService(service((s) => Object.assign(s.spec, { type: "LoadBalancer", clusterIP: "None" })))),
    [`spec.clusterIP: Invalid value: "None": may not be set to 'None' for LoadBalancer services`],
  );
  assert.deepEqual(show(validateService(service((s) => s.spec.externalTrafficPolicy = "Local"))), [
    'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
  ]);
  assert.deepEqual(
    show(validateService(service((s) => s.status = { loadBalancer: { ingress: [{ ip: "192.168.1.300" }] } }))),
    ['status.loadBalancer.ingress[0].ip: Invalid value: "192.168.1.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'],
  );
});

Deno.test("validateService() with old keeps the cluster IP", () => {
  const before = service((s) => s.spec.clusterIP = "10.43.0.10");
  assert.deepEqual(show(validateService(service((s) => s.spec.clusterIP = "10.43.0.11"), before)), [
    'spec.clusterIP: Invalid value: "10.43.0.11": field is immutable',
  ]);
  assert.deepEqual(validateService(service((s) => s.spec.clusterIP = "10.43.0.10"), before), []);
  assert.deepEqual(validateService({ spec: { type: "ExternalName", externalName: "a.b" } }, before), []);
});

Deno.test("validateEndpoints() rejects special addresses", () => {
  assert.deepEqual(validateEndpoints(endpoints()), []);
  const ep: Any = endpoints();
  ep.subsets[0].addresses.push({ ip: "127.0.0.1" }, { ip: "fe80::1" }, { ip: "nope" });
  assert.deepEqual(show(validateEndpoints(ep)), [
    'subsets[0].addresses[1].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
    'subsets[0].addresses[2].ip: Invalid value: "fe80::1": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
    'subsets[0].addresses[3].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ]);
});

Deno.test("validateEndpointSlice() checks addresses by type", () => {
  assert.deepEqual(validateEndpointSlice(endpointSlice()), []);
  const slice: Any = endpointSlice();
  slice.endpoints.push({ addresses: ["2001:db8::1"] }, { addresses: [] });
  assert.deepEqual(show(validateEndpointSlice(slice)), [
    'endpoints[1].addresses[0]: Invalid value: "2001:db8::1": must be a valid IPv4 address',
    "endpoints[2].addresses: Required value: must contain at least 1 address",
  ]);
  assert.deepEqual(
    show(validateEndpointSlice({ ...endpointSlice(), addressType: "IPv6", endpoints: [] }, endpointSlice())),
    [
      'addressType: Invalid value: "IPv6": field is immutable',
    ],
  );
  assert.deepEqual(show(validateEndpointSlice({ endpoints: [] })), ["addressType: Required value"]);
});

Deno.test("network validators never throw on junk", () => {
  for (const validate of [validateService, validateEndpoints, validateEndpointSlice]) {
    for (
      const junk of [null, 1, [], { spec: [] }, { spec: { ports: [null, "x", { port: "80" }] } }, {
        subsets: [{ addresses: [1] }],
      }, { endpoints: "x" }]
    ) {
      assert.ok(Array.isArray(validate(junk, junk)), validate.name);
    }
  }
});
