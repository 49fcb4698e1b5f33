import assert from "node:assert/strict";
import { endpoints, endpointSlice, namedPortService } from "./_test_manifests.ts";
import { resolveResource } from "./registry.ts";
import type { Service } from "./types_network.ts";

Deno.test("Service types hold a named targetPort and a load balancer status", () => {
  const svc: Service = {
    ...namedPortService(),
    status: { loadBalancer: { ingress: [{ ip: "192.168.1.240", ipMode: "VIP" }] } },
  };
  const type = resolveResource("svc");
  type.defaults(svc);
  assert.deepEqual(type.validate(svc), []);
  assert.equal(svc.spec?.ports?.[0]?.targetPort, "http-web-svc");
  assert.equal(svc.spec?.type, "ClusterIP");
  assert.equal(svc.status?.loadBalancer?.ingress?.[0]?.ip, "192.168.1.240");
});

Deno.test("Endpoints and EndpointSlice types validate as served", () => {
  const ep = endpoints();
  const slice = endpointSlice();
  for (const [name, obj] of [["ep", ep], ["endpointslices", slice]] as const) {
    const type = resolveResource(name);
    type.defaults(obj);
    assert.deepEqual(type.validate(obj), [], name);
  }
  assert.equal(ep.subsets?.[0]?.ports?.[0]?.protocol, "TCP");
  assert.equal(slice.endpoints[0]?.conditions?.ready, true);
});
