import assert from "node:assert/strict";
import type { KubeObject, Service } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { parseAddressPool } from "./address_pool.ts";
import { HomelabProvider, LB_POOL_CONFIGMAP, LB_POOL_NAMESPACE } from "./homelab_provider.ts";
import { LoadBalancerAllocator } from "./lb_allocator.ts";
import { CONDITION_LB_ALLOCATED, LoadBalancerController } from "./load_balancer_controller.ts";
import { LoadBalancerError } from "./provider.ts";
import { eventsAbout, loadBalancerService, startCloudTestCluster, waitFor } from "./_testing.ts";

const services = (client: ApiClient) => client.kind<Service>("v1", "Service");
const ipOf = (svc: Service) => svc.status?.loadBalancer?.ingress?.[0]?.ip;
const conditionOf = (svc: Service) => svc.status?.conditions?.find((c) => c.type === CONDITION_LB_ALLOCATED);

function cluster(lbPool?: string) {
  return startCloudTestCluster((client) => [
    new LoadBalancerController({ provider: new HomelabProvider({ client, ...(lbPool ? { lbPool } : {}) }) }),
  ]);
}

async function settled(client: ApiClient, names: string[]): Promise<Service[]> {
  return await waitFor(`${names.join(", ")} to get an address or a refusal`, async () => {
    const all = (await services(client).list({ namespace: "default" })).items.filter((s) =>
      names.includes(s.metadata.name!)
    );
    return all.length === names.length && all.every((s) => conditionOf(s)) ? all : undefined;
  });
}

Deno.test("LoadBalancerAllocator never hands one address to two Services, even from two allocators at once", async () => {
  await using c = await startCloudTestCluster(() => []);
  const pool = parseAddressPool("192.168.1.240-192.168.1.249");
  const allocators = [new LoadBalancerAllocator(c.client), new LoadBalancerAllocator(c.client)];
  const results = await Promise.allSettled(
    Array.from(
      { length: 14 },
      (_, i) => allocators[i % 2]!.allocate({ namespace: "default", name: `svc-${i}`, uid: `uid-${i}` }, pool),
    ),
  );
  const ips = results.flatMap((r) => r.status === "fulfilled" ? [r.value.ip] : []);
  assert.equal(ips.length, 10);
  assert.equal(new Set(ips).size, 10, `duplicates in ${ips.join(", ")}`);
  const refusals = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
  assert.equal(refusals.length, 4);
  for (const err of refusals) {
    assert.ok(err instanceof LoadBalancerError);
    assert.equal(err.reason, "AddressPoolExhausted");
  }
  const held = await allocators[0]!.allocations();
  assert.equal(held.size, 10);
  // The same Service asking again keeps its address; releasing frees it.
  const first = results.findIndex((r) => r.status === "fulfilled");
  const again = await allocators[1]!.allocate(
    { namespace: "default", name: `svc-${first}`, uid: `uid-${first}` },
    pool,
  );
  assert.equal(again.claimed, false);
  assert.deepEqual(await allocators[0]!.release({ namespace: "default", name: `svc-${first}` }), [again.ip]);
  assert.equal((await allocators[1]!.allocations()).size, 9);
});

Deno.test("LoadBalancerController gives concurrently created Services distinct addresses and tells the rest the pool is exhausted", async () => {
  await using c = await cluster("192.168.1.240-192.168.1.243");
  const names = Array.from({ length: 6 }, (_, i) => `web-${i}`);
  await Promise.all(names.map((name) => services(c.client).create(loadBalancerService(name))));
  const all = await settled(c.client, names);
  const given = all.flatMap((s) => ipOf(s) ? [ipOf(s)!] : []);
  assert.equal(given.length, 4);
  assert.equal(new Set(given).size, 4);
  assert.ok(given.every((ip) => parseAddressPool("192.168.1.240-192.168.1.243").contains(ip)));
  for (const svc of all.filter((s) => ipOf(s))) {
    assert.equal(conditionOf(svc)?.status, "True");
    assert.equal(svc.status?.loadBalancer?.ingress?.[0]?.ipMode, "VIP");
  }
  const waiting = all.filter((s) => !ipOf(s));
  assert.equal(waiting.length, 2);
  for (const svc of waiting) {
    assert.equal(conditionOf(svc)?.reason, "AddressPoolExhausted");
    assert.match(conditionOf(svc)?.message ?? "", /Every address of the LoadBalancer pool .* is in use/);
    const events = await waitFor("the exhaustion event", async () => {
      const found = (await eventsAbout(c.client, svc.metadata.name!)).filter((e) =>
        e.reason === "AddressPoolExhausted"
      );
      return found.length > 0 ? found : undefined;
    });
    assert.equal(events[0]?.type, "Warning");
  }

  // Deleting a Service gives its address to one that waits.
  const holder = all.find((s) => ipOf(s))!;
  await services(c.client).delete(holder.metadata.name!, { namespace: "default" });
  const taken = await waitFor("a waiting Service to get the freed address", async () => {
    const now = (await services(c.client).list({ namespace: "default" })).items;
    return now.find((s) => waiting.some((w) => w.metadata.name === s.metadata.name) && ipOf(s) === ipOf(holder));
  });
  assert.equal(conditionOf(taken)?.status, "True");
});

Deno.test("LoadBalancerController honours a requested loadBalancerIP and refuses one in use or outside the pool", async () => {
  await using c = await cluster("192.168.1.240/29");
  await services(c.client).create(loadBalancerService("wanted", { loadBalancerIP: "192.168.1.245" }));
  const [wanted] = await settled(c.client, ["wanted"]);
  assert.equal(ipOf(wanted!), "192.168.1.245");

  await services(c.client).create(loadBalancerService("taken", { loadBalancerIP: "192.168.1.245" }));
  await services(c.client).create(loadBalancerService("outside", { loadBalancerIP: "10.0.0.1" }));
  const [outside, taken] = await settled(c.client, ["taken", "outside"]);
  assert.equal(ipOf(taken!), undefined);
  assert.equal(conditionOf(taken!)?.status, "False");
  assert.equal(conditionOf(taken!)?.reason, "LoadBalancerIPInUse");
  assert.match(conditionOf(taken!)?.message ?? "", /"192.168.1.245" is in use by Service "default\/wanted"/);
  assert.equal(conditionOf(outside!)?.reason, "LoadBalancerIPNotInPool");
  const events = await waitFor("the refusal event", async () => {
    const found = (await eventsAbout(c.client, "taken")).filter((e) => e.reason === "LoadBalancerIPInUse");
    return found.length > 0 ? found : undefined;
  });
  assert.equal(events[0]?.type, "Warning");

  // Once the address is free, the request is honoured.
  await services(c.client).delete("wanted", { namespace: "default" });
  await waitFor(
    "the request to be honoured",
    async () => ipOf(await services(c.client).get("taken", { namespace: "default" })) === "192.168.1.245",
  );
});

Deno.test("LoadBalancerController takes its pool from the ConfigMap at run time and releases the address of a Service that stops being a LoadBalancer", async () => {
  await using c = await cluster();
  await services(c.client).create(loadBalancerService("api"));
  const [pending] = await settled(c.client, ["api"]);
  assert.equal(conditionOf(pending!)?.reason, "NoAddressPool");
  assert.match(conditionOf(pending!)?.message ?? "", /--lb-pool/);

  const pool: KubeObject & { data: Record<string, string> } = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: LB_POOL_CONFIGMAP, namespace: LB_POOL_NAMESPACE },
    data: { addresses: "10.9.0.10-10.9.0.11" },
  };
  await c.client.kind("v1", "ConfigMap").create(pool);
  const served = await waitFor("an address from the ConfigMap's pool", async () => {
    const svc = await services(c.client).get("api", { namespace: "default" });
    return ipOf(svc) ? svc : undefined;
  });
  assert.equal(ipOf(served), "10.9.0.10");

  // A pool that does not parse is reported and the one in force is kept.
  await c.client.kind("v1", "ConfigMap").patch(LB_POOL_CONFIGMAP, { data: { addresses: "10.9.0.300" } }, {
    namespace: LB_POOL_NAMESPACE,
  });
  const warning = await waitFor(
    "the InvalidAddressPool event",
    async () => (await eventsAbout(c.client, LB_POOL_CONFIGMAP)).find((e) => e.reason === "InvalidAddressPool"),
  );
  assert.match(
    warning.message ?? "",
    /"10.9.0.300" is not an IPv4 address.*keeping the pool in force \(10.9.0.10-10.9.0.11\)/,
  );

  // A new pool without the address moves the Service.
  await c.client.kind("v1", "ConfigMap").patch(LB_POOL_CONFIGMAP, { data: { addresses: "10.9.1.0/30" } }, {
    namespace: LB_POOL_NAMESPACE,
  });
  await waitFor(
    "the Service to move into the new pool",
    async () => ipOf(await services(c.client).get("api", { namespace: "default" })) === "10.9.1.1",
  );

  const current = await services(c.client).get("api", { namespace: "default" });
  await services(c.client).update({ ...current, spec: { ...current.spec, type: "ClusterIP" } });
  const plain = await waitFor("the load balancer status to be cleared", async () => {
    const svc = await services(c.client).get("api", { namespace: "default" });
    return !ipOf(svc) && !conditionOf(svc) ? svc : undefined;
  });
  assert.deepEqual(plain.status?.loadBalancer ?? {}, {});
  assert.equal((await new LoadBalancerAllocator(c.client).allocations()).size, 0);
});
