import assert from "node:assert/strict";
import type { ApiClient } from "@skiff/client";
import type { Endpoints, EndpointSlice, Pod, Service } from "@skiff/api";
import {
  EndpointsController,
  ENDPOINTSLICE_CONTROLLER_NAME,
  LABEL_MANAGED_BY,
  resolveTargetPort,
} from "./endpoints.ts";
import { listOf, runPod, startTestCluster, waitFor } from "./_testing.ts";

const pod = (name: string, app: string, httpPort: number, extra: Partial<NonNullable<Pod["spec"]>> = {}): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default", labels: { app } },
  spec: {
    containers: [{ name: "web", image: "busybox:1.36", ports: [{ name: "http", containerPort: httpPort }] }],
    ...extra,
  },
});

const service = (name: string, spec: NonNullable<Service["spec"]>): Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default", labels: { tier: "front" } },
  spec,
});

const endpointsOf = (client: ApiClient, name: string) =>
  client.kind<Endpoints>("v1", "Endpoints").get(name, { namespace: "default" }).catch(() => undefined);

const slicesOf = async (client: ApiClient, name: string) =>
  (await client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice").list({
    namespace: "default",
    labelSelector: `kubernetes.io/service-name=${name}`,
  })).items;

const ips = (addresses: { ip: string }[] | undefined) => (addresses ?? []).map((a) => a.ip);

async function startPod(client: ApiClient, p: Pod, options: { ip: string; ready: boolean; node?: string }) {
  const created = await client.kind<Pod>("v1", "Pod").create(p);
  return await runPod(client, created, { ip: options.ip, ready: options.ready, node: options.node ?? "pi-1" });
}

Deno.test("resolveTargetPort() takes numbers as they are and looks names up in the pod's container ports", () => {
  const p = pod("a", "web", 8080);
  assert.equal(resolveTargetPort(p, { port: 80, targetPort: 9000 }), 9000);
  assert.equal(resolveTargetPort(p, { port: 80 }), 80);
  assert.equal(resolveTargetPort(p, { port: 80, targetPort: "http" }), 8080);
  assert.equal(resolveTargetPort(p, { port: 80, targetPort: "http", protocol: "UDP" }), undefined);
  assert.equal(resolveTargetPort(p, { port: 80, targetPort: "grpc" }), undefined);
});

Deno.test("EndpointsController publishes ready and not-ready pod addresses with resolved ports", async () => {
  await using cluster = await startTestCluster([new EndpointsController()]);
  const { client } = cluster;
  await startPod(client, pod("web-a", "web", 8080), { ip: "10.42.1.5", ready: true });
  await startPod(client, pod("web-b", "web", 8080), { ip: "10.42.1.6", ready: false, node: "pi-2" });
  await startPod(client, pod("web-c", "web", 8081), { ip: "10.42.1.7", ready: true });
  await client.kind("v1", "Pod").create(pod("web-pending", "web", 8080));
  await startPod(client, pod("db-a", "db", 8080), { ip: "10.42.1.9", ready: true });
  await client.kind("v1", "Service").create(service("web", {
    selector: { app: "web" },
    ports: [{ name: "http", port: 80, targetPort: "http" }, { name: "metrics", port: 9090 }],
  }));

  const ep = await waitFor("Endpoints with two subsets", async () => {
    const ep = await endpointsOf(client, "web");
    return ep?.subsets?.length === 2 && ep;
  });
  const [first, second] = ep.subsets!;
  assert.deepEqual(ips(first!.addresses), ["10.42.1.5"]);
  assert.deepEqual(ips(first!.notReadyAddresses), ["10.42.1.6"]);
  assert.deepEqual(first!.ports, [
    { name: "http", port: 8080, protocol: "TCP" },
    { name: "metrics", port: 9090, protocol: "TCP" },
  ]);
  assert.deepEqual(ips(second!.addresses), ["10.42.1.7"]);
  assert.equal(second!.ports?.[0]?.port, 8081);
  const address = first!.notReadyAddresses![0]!;
  assert.equal(address.nodeName, "pi-2");
  assert.equal(address.targetRef?.kind, "Pod");
  assert.equal(address.targetRef?.name, "web-b");
  assert.equal(ep.metadata.labels?.tier, "front");

  const slices = await waitFor("two EndpointSlices", async () => {
    const slices = await slicesOf(client, "web");
    return slices.length === 2 && slices;
  });
  const svc = await client.kind<Service>("v1", "Service").get("web", { namespace: "default" });
  for (const slice of slices) {
    assert.equal(slice.addressType, "IPv4");
    assert.equal(slice.metadata.labels?.[LABEL_MANAGED_BY], ENDPOINTSLICE_CONTROLLER_NAME);
    assert.equal(slice.metadata.ownerReferences?.[0]?.uid, svc.metadata.uid);
    assert.equal(slice.metadata.ownerReferences?.[0]?.kind, "Service");
  }
  const main = slices.find((s) => s.ports?.some((p) => p.port === 8080))!;
  assert.deepEqual(
    main.endpoints.map((e) => [e.addresses[0], e.conditions, e.nodeName, e.targetRef?.name]),
    [
      ["10.42.1.5", { ready: true, serving: true, terminating: false }, "pi-1", "web-a"],
      ["10.42.1.6", { ready: false, serving: false, terminating: false }, "pi-2", "web-b"],
    ],
  );

  await runPod(client, await client.kind<Pod>("v1", "Pod").get("web-b", { namespace: "default" }), {
    ip: "10.42.1.6",
    ready: true,
  });
  await waitFor("web-b ready", async () => {
    const ep = await endpointsOf(client, "web");
    return ips(ep?.subsets?.[0]?.addresses).join() === "10.42.1.5,10.42.1.6";
  });

  await client.kind("v1", "Pod").delete("web-a", { namespace: "default" });
  await waitFor("terminating web-a out of Endpoints and terminating in its slice", async () => {
    const ep = await endpointsOf(client, "web");
    const slice = (await slicesOf(client, "web")).find((s) => s.ports?.some((p) => p.port === 8080));
    const a = slice?.endpoints.find((e) => e.targetRef?.name === "web-a");
    return ips(ep?.subsets?.[0]?.addresses).join() === "10.42.1.6" &&
      a?.conditions?.terminating === true && a.conditions.ready === false && a.conditions.serving === true;
  });
});

Deno.test("EndpointsController writes only on change and removes what a deleted Service leaves", async () => {
  await using cluster = await startTestCluster([new EndpointsController()]);
  const { client } = cluster;
  await startPod(client, pod("web-a", "web", 8080), { ip: "10.42.1.5", ready: true });
  await client.kind("v1", "Service").create(service("web", { selector: { app: "web" }, ports: [{ port: 80 }] }));
  const before = await waitFor("Endpoints", () => endpointsOf(client, "web"));
  const sliceBefore = (await waitFor("a slice", async () => (await slicesOf(client, "web"))[0]))!;

  await client.kind("v1", "Pod").patch("web-a", { metadata: { annotations: { note: "irrelevant" } } }, {
    namespace: "default",
  });
  await client.kind("v1", "Service").create(service("marker", { selector: { app: "web" }, ports: [{ port: 81 }] }));
  await waitFor("the marker Service's Endpoints", () => endpointsOf(client, "marker"));
  assert.equal((await endpointsOf(client, "web"))?.metadata.resourceVersion, before.metadata.resourceVersion);
  assert.equal((await slicesOf(client, "web"))[0]?.metadata.resourceVersion, sliceBefore.metadata.resourceVersion);

  await client.kind("v1", "Service").delete("web", { namespace: "default" });
  await waitFor(
    "Endpoints and slices gone",
    async () => !(await endpointsOf(client, "web")) && (await slicesOf(client, "web")).length === 0,
  );
  assert.ok(await endpointsOf(client, "marker"));
});

Deno.test("EndpointsController serves headless Services and leaves Services without selector alone", async () => {
  await using cluster = await startTestCluster([new EndpointsController()]);
  const { client } = cluster;
  await startPod(client, pod("db-0", "db", 5432, { hostname: "db-0", subdomain: "db" }), {
    ip: "10.42.1.5",
    ready: true,
  });
  await client.kind("v1", "Service").create(service("db", { clusterIP: "None", selector: { app: "db" } }));
  const manual: Endpoints = {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: "external", namespace: "default" },
    subsets: [{ addresses: [{ ip: "192.168.1.20" }], ports: [{ port: 5432, protocol: "TCP" }] }],
  };
  await client.kind("v1", "Endpoints").create(manual);
  await client.kind("v1", "Service").create(service("external", { ports: [{ port: 5432 }] }));

  const ep = await waitFor("headless Endpoints", () => endpointsOf(client, "db"));
  assert.deepEqual(ep.subsets, [{
    addresses: [{
      ip: "10.42.1.5",
      hostname: "db-0",
      nodeName: "pi-1",
      targetRef: ep.subsets?.[0]?.addresses?.[0]?.targetRef,
    }],
  }]);
  assert.equal(ep.metadata.labels?.["service.kubernetes.io/headless"], "");
  const [slice] = await waitFor("a headless slice", async () => {
    const slices = await slicesOf(client, "db");
    return slices.length === 1 && slices;
  });
  assert.deepEqual(slice!.ports, []);
  assert.equal(slice!.endpoints[0]?.hostname, "db-0");

  await client.kind("v1", "Service").create(service("marker", { selector: { app: "db" }, ports: [{ port: 81 }] }));
  await waitFor("the marker Service's Endpoints", () => endpointsOf(client, "marker"));
  assert.deepEqual((await endpointsOf(client, "external"))?.subsets, manual.subsets);
  assert.equal((await slicesOf(client, "external")).length, 0);
  const all = await listOf<EndpointSlice>(client, "discovery.k8s.io/v1", "EndpointSlice");
  assert.ok(all.every((s) => s.metadata.labels?.["kubernetes.io/service-name"] !== "external"));
});
