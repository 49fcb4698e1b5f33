import assert from "node:assert/strict";
import { isCIDR } from "./_ip.ts";
import {
  API_PORT,
  CLUSTER_DOMAIN,
  CLUSTER_POD_CIDR,
  CONTAINERD_NAMESPACE,
  INITIAL_NAMESPACES,
  NODE_HEARTBEAT_SECONDS,
  NODE_NOT_READY_SECONDS,
  NODE_POD_CIDR_PREFIX,
  NODE_PORT_MAX,
  NODE_PORT_MIN,
  POD_EVICTION_SECONDS,
  SERVICE_CIDR,
} from "./constants.ts";
import { dns1123LabelErrors, dns1123SubdomainErrors } from "./names.ts";

Deno.test("constants match the cluster defaults of ARCHITECTURE.md", () => {
  assert.equal(CLUSTER_POD_CIDR, "10.42.0.0/16");
  assert.equal(NODE_POD_CIDR_PREFIX, 24);
  assert.equal(SERVICE_CIDR, "10.43.0.0/16");
  assert.equal(CONTAINERD_NAMESPACE, "skiff");
  assert.equal(API_PORT, 6443);
  assert.deepEqual([NODE_HEARTBEAT_SECONDS, NODE_NOT_READY_SECONDS, POD_EVICTION_SECONDS], [10, 40, 300]);
  assert.deepEqual([NODE_PORT_MIN, NODE_PORT_MAX], [30000, 32767]);
  assert.equal(CLUSTER_DOMAIN, "cluster.local");
});

Deno.test("constants are valid values for the fields they fill", () => {
  assert.ok(isCIDR(CLUSTER_POD_CIDR) && isCIDR(SERVICE_CIDR));
  assert.ok(NODE_POD_CIDR_PREFIX > Number(CLUSTER_POD_CIDR.split("/")[1]));
  assert.ok(NODE_HEARTBEAT_SECONDS < NODE_NOT_READY_SECONDS && NODE_NOT_READY_SECONDS < POD_EVICTION_SECONDS);
  assert.deepEqual(dns1123SubdomainErrors(CLUSTER_DOMAIN), []);
  for (const ns of INITIAL_NAMESPACES) assert.deepEqual(dns1123LabelErrors(ns), [], ns);
});
