import assert from "node:assert/strict";
import { join } from "node:path";
import { type EndpointSlice, type KubeObject, LABEL_SERVICE_NAME, ManualClock, type Service } from "@skiff/api";
import { ApiClient, type ResourceClient } from "@skiff/client";
import { type ControlPlane, startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import { createLab, createTempDir, type Lab, requireTools } from "../../test/support/mod.ts";
import { run } from "../_exec.ts";
import { CniPodNetwork, type PodNetworkStatus } from "./pod_network.ts";
import { HostGwRoutes } from "./routes.ts";
import { proxyServices, ServiceProxy, type ServiceProxyApplyReport } from "./service_proxy.ts";
import { deleteNetnsWithPrefix, recordingExec } from "./_test_support.ts";

function service(name: string, spec: Service["spec"], status?: Service["status"]): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec,
    ...(status ? { status } : {}),
  };
}

function slice(
  serviceName: string,
  endpoints: { ip: string; ready?: boolean; terminating?: boolean }[],
  ports: { name?: string; port: number; protocol?: "TCP" | "UDP" }[],
  suffix = "a",
): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${serviceName}-${suffix}`, namespace: "default", labels: { [LABEL_SERVICE_NAME]: serviceName } },
    addressType: "IPv4",
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready === undefined ? {} : { ready: e.ready }),
        ...(e.terminating === undefined ? {} : { terminating: e.terminating }),
      },
    })),
    ports: ports.map((p) => ({ name: p.name ?? "", port: p.port, protocol: p.protocol ?? "TCP" })),
  };
}

Deno.test("proxyServices() keeps ready, not terminating endpoints and matches slice ports by name and protocol", () => {
  const { services, problems } = proxyServices(
    [service("web", {
      clusterIP: "10.43.0.10",
      type: "LoadBalancer",
      externalIPs: ["192.168.1.50", "fd00::1"],
      sessionAffinity: "ClientIP",
      externalTrafficPolicy: "Local",
      ports: [
        { name: "http", port: 80, targetPort: "web", nodePort: 30080 },
        { name: "dns", port: 53, protocol: "UDP" },
      ],
    }, { loadBalancer: { ingress: [{ ip: "192.168.1.60" }, { ip: "192.168.1.61", ipMode: "Proxy" }] } })],
    [
      slice("web", [{ ip: "10.42.1.5" }, { ip: "10.42.1.6", ready: false }, { ip: "10.42.1.7", terminating: true }], [
        { name: "http", port: 8080 },
        { name: "dns", port: 5353, protocol: "UDP" },
      ]),
      slice("web", [{ ip: "10.42.2.5", ready: true }], [{ name: "http", port: 9090 }], "b"),
      slice("web", [{ ip: "10.42.2.9", ready: true }], [{ name: "http", port: 80, protocol: "UDP" }], "c"),
      { ...slice("web", [{ ip: "fd00::5" }], [{ name: "http", port: 80 }], "d"), addressType: "IPv6" },
      slice("other", [{ ip: "10.42.3.3" }], [{ name: "http", port: 80 }]),
    ],
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(services, [{
    namespace: "default",
    name: "web",
    type: "LoadBalancer",
    clusterIP: "10.43.0.10",
    externalAddresses: ["192.168.1.50", "192.168.1.60"],
    sessionAffinity: "ClientIP",
    sessionAffinityTimeoutSeconds: 10800,
    externalTrafficPolicy: "Local",
    ports: [
      {
        name: "http",
        protocol: "TCP",
        port: 80,
        nodePort: 30080,
        endpoints: [{ address: "10.42.1.5", port: 8080 }, { address: "10.42.2.5", port: 9090 }],
      },
      { name: "dns", protocol: "UDP", port: 53, endpoints: [{ address: "10.42.1.5", port: 5353 }] },
    ],
  }]);
});

Deno.test("proxyServices() leaves out headless and ExternalName Services, and reports what it cannot use", () => {
  const { services, problems } = proxyServices([
    service("headless", { clusterIP: "None", ports: [{ port: 80 }] }),
    service("alias", { type: "ExternalName", externalName: "example.org" }),
    service("v6", { clusterIP: "fd00::10", ports: [{ port: 80 }] }),
    service("odd", {
      clusterIP: "10.43.0.11",
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } },
      ports: [{ port: 70000 }, { port: 81 }],
    }),
  ], []);
  assert.deepEqual(services.map((s) => [s.name, s.sessionAffinityTimeoutSeconds, s.ports.map((p) => p.port)]), [
    ["odd", 10800, [81]],
  ]);
  assert.deepEqual(problems, [
    'Service "default/v6" has a clusterIP "fd00::10" that is not IPv4: it gets no ClusterIP rules',
    'Service "default/odd" has a port {"port":70000} that is not valid: it is left out',
    'Service "default/odd" has a session affinity timeout 0 that is not 1 to 86400 seconds: 10800 is used',
  ]);
});

Deno.test("ServiceProxy() refuses invalid options, naming the option", () => {
  const client = new ApiClient({ server: "https://in-process", transport: () => Promise.reject(new Error("unused")) });
  assert.throws(
    () => new ServiceProxy({ source: {} as { client: ApiClient }, podCidr: "10.42.1.0/24" }),
    /Invalid option "source"/,
  );
  assert.throws(
    () => new ServiceProxy({ source: { client }, podCidr: "10.42.1.0/33" }),
    /Invalid podCidr "10\.42\.1\.0\/33"/,
  );
  assert.throws(
    () => new ServiceProxy({ source: { client }, podCidr: "10.42.1.0/24", nodeAddresses: ["node-1"] }),
    /Invalid nodeAddresses\[0\] "node-1"/,
  );
  assert.throws(
    () => new ServiceProxy({ source: { client }, podCidr: "10.42.1.0/24", debounceMs: -1 }),
    /Invalid option "debounceMs": -1/,
  );
});

/** A control plane in a temporary directory and an admin client that reaches it in process. */
async function controlPlane(): Promise<{ plane: ControlPlane; client: ApiClient } & AsyncDisposable> {
  const dir = await createTempDir({ prefix: "skiff-proxy-cp-" });
  const plane = await startControlPlane({ dataDir: dir.path, port: 0, bind: "127.0.0.1", log: () => {} });
  const client = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  return {
    plane,
    client,
    async [Symbol.asyncDispose]() {
      await plane.stop();
      await dir[Symbol.asyncDispose]();
    },
  };
}

async function waitFor<T>(
  what: string,
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 10_000,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("ServiceProxy applies nothing until Services and EndpointSlices are both listed (an agent restarting)", async () => {
  await using cp = await controlPlane();
  await cp.client.kind<Service>("v1", "Service").create(
    service("web", { clusterIP: "10.43.1.1", ports: [{ port: 80 }] }),
  );
  await cp.client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice").create(
    slice("web", [{ ip: "10.42.1.5" }], [{ port: 8080 }]),
  );
  // The EndpointSlice list answers only when the test lets it: the Services are cached first.
  const slicesListed = Promise.withResolvers<void>();
  const inner = cp.plane.handler.as(SYSTEM_USER);
  const client = new ApiClient({
    server: "https://in-process",
    transport: async (req) => {
      const url = new URL(req.url);
      if (url.pathname.endsWith("/endpointslices") && !url.searchParams.has("watch")) await slicesListed.promise;
      return await inner(req);
    },
  });
  const clock = new ManualClock();
  const { exec } = recordingExec((cmd) => ({ stdout: cmd.includes("list") ? '{"nftables": []}' : "" }));
  const applies: ServiceProxyApplyReport[] = [];
  const proxy = new ServiceProxy({
    source: { client },
    podCidr: "10.42.1.0/24",
    exec,
    clock,
    log: () => {},
    onApply: (report) => applies.push(report),
  });
  try {
    const started = proxy.start();
    await waitFor("the Service in the proxy's cache", () => proxy.state().services.length === 1);
    await clock.advance(1_000);
    assert.equal(applies.length, 0, "a Service without its slices would have been rendered as having no endpoints");
    slicesListed.resolve();
    await started;
    assert.deepEqual(applies.map((a) => [a.servicePorts, a.endpoints]), [[1, 1]]);
  } finally {
    slicesListed.resolve();
    await proxy.stop();
  }
});

Deno.test("ServiceProxy applies a change at once after a quiet spell, a burst together, and stop() deletes the table", async () => {
  await using cp = await controlPlane();
  const clock = new ManualClock();
  const { exec, commands } = recordingExec((cmd) => ({
    stdout: cmd.includes("tables")
      ? '{"nftables": [{"table": {"family": "ip", "name": "skiff"}}]}'
      : cmd.includes("list")
      ? '{"nftables": []}'
      : "",
  }));
  const applies: ServiceProxyApplyReport[] = [];
  const proxy = new ServiceProxy({
    source: { client: cp.client },
    podCidr: "10.42.1.0/24",
    nodeAddresses: ["192.168.77.2"],
    exec,
    netns: "node-1",
    clock,
    debounceMs: 100,
    log: () => {},
    onApply: (report) => applies.push(report),
  });
  try {
    await proxy.start();
    assert.deepEqual(applies.map((a) => a.mode), ["full"]);
    const services = cp.client.kind<Service>("v1", "Service");
    const slices = cp.client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
    for (let i = 0; i < 5; i++) {
      await services.create(service(`s${i}`, { clusterIP: `10.43.1.${i + 1}`, ports: [{ port: 80 }] }));
      await slices.create(slice(`s${i}`, [{ ip: `10.42.1.${i + 5}` }], [{ port: 8080 }]));
    }
    await waitFor(
      "the proxy's caches to hold every slice",
      () =>
        proxy.state().services.every((s) => s.ports[0]?.endpoints.length === 1) && proxy.state().services.length === 5,
    );
    assert.equal(applies.length, 1, "nothing is applied before the debounce delay");
    await clock.advance(100);
    await waitFor("the apply", () => applies.length === 2);
    assert.equal(applies[1]!.mode, "update");
    assert.equal(applies[1]!.servicePorts, 5);
    assert.equal(applies[1]!.endpoints, 5);
    const script = commands.at(-1)!.options.stdin!;
    for (let i = 0; i < 5; i++) assert.match(script, new RegExp(`dnat to 10\\.42\\.1\\.${i + 5}:8080`));

    await services.delete("s0", { namespace: "default" });
    await waitFor("the delete in the cache", () => proxy.state().services.length === 4);
    await clock.advance(100);
    await waitFor("the apply", () => applies.length === 3);
    assert.match(commands.at(-1)!.options.stdin!, /delete chain ip skiff svc-default\/s0\/tcp\/80/);

    // An endpoint change renders and writes only its own Service again.
    const svcChain = (name: string) => proxy.ruleset?.chains.find((c) => c.name === `svc-default/${name}/tcp/80`);
    const [s1Before, s2Before] = [svcChain("s1"), svcChain("s2")];
    const s1Slice = await slices.get("s1-a", { namespace: "default" });
    await slices.update({ ...s1Slice, endpoints: [{ addresses: ["10.42.1.20"], conditions: {} }] });
    await waitFor(
      "the endpoint change in the cache",
      () => proxy.state().services.find((s) => s.name === "s1")?.ports[0]?.endpoints[0]?.address === "10.42.1.20",
    );
    await clock.advance(100);
    await waitFor("the apply", () => applies.length === 4);
    assert.equal(applies[3]!.mode, "update");
    const update = commands.at(-1)!.options.stdin!;
    assert.match(update, /^flush chain ip skiff svc-default\/s1\/tcp\/80$/m);
    assert.doesNotMatch(update, /s2/);
    assert.notEqual(svcChain("s1"), s1Before);
    assert.equal(svcChain("s2"), s2Before, "an unchanged Service is not rendered again");
    // A full sync renders every Service again and rewrites the table.
    assert.equal((await proxy.sync({ full: true }))?.mode, "full");
    assert.notEqual(svcChain("s2"), s2Before);
    assert.deepEqual(svcChain("s2"), s2Before);

    // After a quiet spell, a change is applied at once.
    await clock.advance(1000);
    await services.create(service("s9", { clusterIP: "10.43.1.9", ports: [{ port: 80 }] }));
    await waitFor("the new Service in the cache", () => proxy.state().services.some((s) => s.name === "s9"));
    await clock.advance(0);
    await waitFor("the apply", () => applies.length === 6);
  } finally {
    await proxy.stop();
  }
  assert.deepEqual(commands.at(-1)?.cmd, ["nft", "-f", "-"]);
  assert.match(commands.at(-1)!.options.stdin!, /^add table ip skiff\ndelete table ip skiff\n$/);
});

Deno.test("ServiceProxy retries a failed apply with a growing delay and says what to check", async () => {
  await using cp = await controlPlane();
  const clock = new ManualClock();
  let failing = true;
  const { exec } = recordingExec((cmd) => {
    if (cmd.includes("list")) return { stdout: '{"nftables": []}' };
    if (failing) throw new Error("nft: Operation not permitted");
    return {};
  });
  const lines: string[] = [];
  const proxy = new ServiceProxy({
    source: { client: cp.client },
    podCidr: "10.42.1.0/24",
    exec,
    clock,
    retryMs: 1000,
    log: (line) => lines.push(line),
  });
  try {
    await assert.rejects(proxy.start(), /Operation not permitted/);
    assert.match(lines[0]!, /applying the nftables table failed \(nft: Operation not permitted\); retrying in 1000 ms/);
    await clock.advance(1000);
    await waitFor("the second failure", () => lines.length === 2);
    assert.match(lines[1]!, /retrying in 2000 ms/);
    failing = false;
    await clock.advance(2000);
    await waitFor("the apply", () => proxy.lastApply?.mode === "full");
  } finally {
    await proxy.stop();
  }
});

// ---------------------------------------------------------------------------
// Real traffic: three simulated hosts on a lab bridge. Nodes 0 and 1 run pods
// (CNI bridge, host-gw routes, a ServiceProxy each); node 2 is a host outside
// the cluster.

const needs = requireTools(
  [
    "ip",
    "nft",
    "busybox",
    "timeout",
    "sysctl",
    "/usr/lib/cni/bridge",
    "/usr/lib/cni/host-local",
    "/usr/lib/cni/loopback",
  ],
  { root: true },
);

/** A web root: `/` answers the name, `/cgi-bin/ip` the client's address as the server saw it. */
async function webRoot(dir: string, name: string): Promise<string> {
  await Deno.mkdir(join(dir, "cgi-bin"), { recursive: true });
  await Deno.writeTextFile(join(dir, "index.html"), name);
  const script = join(dir, "cgi-bin", "ip");
  await Deno.writeTextFile(
    script,
    '#!/bin/sh\na=${REMOTE_ADDR#[}; a=${a%]}; a=${a#::ffff:}\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s" "$a"\n',
  );
  await Deno.chmod(script, 0o755);
  return dir;
}

/** `busybox wget -qO- url` inside `netns` (at most 5 s); the body, or the error and how long it took. */
async function get(netns: string, url: string): Promise<{ ok: boolean; body: string; ms: number }> {
  const started = performance.now();
  const result = await run(["timeout", "5", "busybox", "wget", "-qO-", url], { netns, check: false });
  return {
    ok: result.code === 0,
    body: result.code === 0 ? result.stdout : result.stderr,
    ms: performance.now() - started,
  };
}

/** `count` GETs of `url` in one shell loop inside `netns`; the bodies. */
async function getMany(netns: string, url: string, count: number): Promise<string[]> {
  const loop = `for i in $(seq ${count}); do timeout 5 busybox wget -qO- ${url}; echo; done`;
  const { stdout } = await run(["sh", "-c", loop], { netns });
  return stdout.split("\n").filter((line) => line !== "");
}

function tally(bodies: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const body of bodies) counts[body] = (counts[body] ?? 0) + 1;
  return counts;
}

interface Cluster {
  lab: Lab;
  pods: Record<"a0" | "c0" | "b1", PodNetworkStatus>;
  proxies: ServiceProxy[];
  client: ApiClient;
  spawn(netns: string, cmd: string[], stdio?: "piped" | "null"): Deno.ChildProcess;
}

Deno.test({
  name: "ServiceProxy on two lab nodes serves ClusterIPs, NodePorts, affinity and hairpin, and rejects at once",
  ...needs,
  fn: async (t) => {
    await using tmp = await createTempDir({ prefix: "skiff-proxy-" });
    await using cp = await controlPlane();
    await using lab = await createLab({ nodes: 3 });
    const children: Deno.ChildProcess[] = [];
    const networks: CniPodNetwork[] = [];
    const proxies: ServiceProxy[] = [];
    try {
      const c = await setUpCluster(lab, tmp.path, cp.client, { children, networks, proxies });
      await exercise(t, c);
    } finally {
      for (const proxy of proxies) await proxy.stop().catch(() => {});
      for (const child of children) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await child.status;
      }
      for (const network of networks) await network.gc([]).catch(() => {});
      await deleteNetnsWithPrefix(`skiff-${lab.name}-`);
    }
  },
});

async function setUpCluster(
  lab: Lab,
  dir: string,
  client: ApiClient,
  owned: { children: Deno.ChildProcess[]; networks: CniPodNetwork[]; proxies: ServiceProxy[] },
): Promise<Cluster> {
  const nodes = lab.nodes.slice(0, 2).map((node, i) => {
    const network = new CniPodNetwork({
      nodeName: node.netns,
      podCidr: `10.42.${i + 1}.0/24`,
      stateDir: join(dir, node.netns),
      hostNetns: node.netns,
      ipMasq: false,
    });
    owned.networks.push(network);
    return { node, network };
  });
  const podCidrsByNodeAddress = Object.fromEntries(nodes.map(({ node, network }) => [node.address, network.podCidr]));
  for (const { node } of nodes) {
    const routes = new HostGwRoutes({ netns: node.netns });
    await routes.prepare();
    await routes.syncRoutes({ podCidrsByNodeAddress, own: node.address });
  }
  const setup = (i: number, name: string) =>
    nodes[i]!.network.setup({ podUid: crypto.randomUUID(), namespace: "default", name });
  const pods = { a0: await setup(0, "a0"), c0: await setup(0, "c0"), b1: await setup(1, "b1") };

  const spawn = (netns: string, cmd: string[], stdio: "piped" | "null" = "null") => {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", netns, ...cmd],
      stdin: stdio,
      stdout: stdio,
      stderr: "null",
    }).spawn();
    owned.children.push(child);
    return child;
  };
  for (const [name, pod] of Object.entries(pods)) {
    spawn(pod.netnsName, ["busybox", "httpd", "-f", "-p", "80", "-h", await webRoot(join(dir, name), name)]);
  }
  spawn(lab.nodes[2]!.netns, [
    "busybox",
    "httpd",
    "-f",
    "-p",
    "80",
    "-h",
    await webRoot(join(dir, "outside"), "outside"),
  ]);

  for (const [i, { node, network }] of nodes.entries()) {
    const proxy = new ServiceProxy({
      source: { client },
      nodeAddresses: [node.address],
      podCidr: network.podCidr,
      netns: node.netns,
      debounceMs: 20,
      log: (line) => console.error(`node ${i}: ${line}`),
    });
    owned.proxies.push(proxy);
    await proxy.start();
  }
  for (const pod of Object.values(pods)) {
    await waitFor(`httpd in ${pod.netnsName}`, async () => (await get(pod.netnsName, "http://127.0.0.1/")).ok);
  }
  return { lab, pods, proxies: owned.proxies, client, spawn };
}

/** Creates `obj`, or replaces the object of its name. */
async function upsert<T extends KubeObject>(api: ResourceClient<T>, obj: T): Promise<void> {
  const current = await api.get(obj.metadata.name!, { namespace: "default" }).catch(() => undefined);
  if (current) {
    await api.update({ ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion } });
  } else await api.create(obj);
}

async function exercise(t: Deno.TestContext, c: Cluster): Promise<void> {
  const { lab, pods } = c;
  const [n0, n1, outside] = lab.nodes as [typeof lab.nodes[0], typeof lab.nodes[0], typeof lab.nodes[0]];
  const services = c.client.kind<Service>("v1", "Service");
  const slices = c.client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
  /** Creates or replaces a Service and its one slice, then waits until every proxy has applied them. */
  const publish = async (svc: Service, endpointSlice: EndpointSlice) => {
    await upsert(services, svc);
    await upsert(slices, endpointSlice);
    const ips = endpointSlice.endpoints.filter((e) => e.conditions?.ready !== false).length;
    for (const proxy of c.proxies) {
      await waitFor(`the proxy to apply "${svc.metadata.name}"`, () => {
        const entry = proxy.state().services.find((s) => s.name === svc.metadata.name);
        return entry && entry.ports.every((p) => p.endpoints.length === ips) && proxy.ruleset !== undefined;
      });
      await proxy.sync();
    }
  };
  const http = (port = 80) => [{ port, protocol: "TCP" as const }];

  await t.step("a ClusterIP from a pod reaches endpoints on both nodes, and both receive traffic", async () => {
    await publish(
      service("web", { clusterIP: "10.43.0.10", type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }),
      slice("web", [{ ip: pods.a0.ip }, { ip: pods.b1.ip }], http()),
    );
    const counts = tally(await getMany(pods.c0.netnsName, "http://10.43.0.10/", 40));
    assert.deepEqual(Object.keys(counts).sort(), ["a0", "b1"], JSON.stringify(counts));
    assert.ok(counts.a0! >= 5 && counts.b1! >= 5, `both endpoints get a fair share: ${JSON.stringify(counts)}`);
  });

  await t.step("a NodePort answers on every node address, from outside the cluster and from a pod", async () => {
    for (const node of [n0, n1]) {
      const bodies = await getMany(outside.netns, `http://${node.address}:30080/`, 10);
      assert.equal(bodies.length, 10);
      assert.ok(bodies.every((b) => b === "a0" || b === "b1"), bodies.join(","));
      assert.equal((await get(pods.c0.netnsName, `http://${node.address}:30080/`)).ok, true);
    }
    const seen = await get(outside.netns, `http://${n1.address}:30080/cgi-bin/ip`);
    assert.ok(seen.ok && seen.body !== outside.address, `external traffic is masqueraded (endpoint saw ${seen.body})`);
  });

  await t.step("externalTrafficPolicy Local keeps the outside client's address", async () => {
    await publish(
      service("local", {
        clusterIP: "10.43.0.11",
        type: "NodePort",
        externalTrafficPolicy: "Local",
        ports: [{ port: 80, nodePort: 30081 }],
      }),
      slice("local", [{ ip: pods.a0.ip }], http()),
    );
    const seen = await get(outside.netns, `http://${n0.address}:30081/cgi-bin/ip`);
    assert.deepEqual(seen, { ...seen, ok: true, body: outside.address });
  });

  await t.step("traffic leaving the cluster CIDR is masqueraded; pod to pod keeps the pod's address", async () => {
    assert.equal((await get(pods.c0.netnsName, `http://${outside.address}/cgi-bin/ip`)).body, n0.address);
    assert.equal((await get(pods.c0.netnsName, `http://${pods.b1.ip}/cgi-bin/ip`)).body, pods.c0.ip);
    await publish(
      service("b-only", { clusterIP: "10.43.0.12", ports: [{ port: 80 }] }),
      slice("b-only", [{ ip: pods.b1.ip }], http()),
    );
    assert.equal((await get(pods.c0.netnsName, "http://10.43.0.12/cgi-bin/ip")).body, pods.c0.ip);
  });

  await t.step("a pod reaches itself through its own Service (hairpin)", async () => {
    await publish(
      service("self", { clusterIP: "10.43.0.13", ports: [{ port: 80 }] }),
      slice("self", [{ ip: pods.a0.ip }], http()),
    );
    const answer = await get(pods.a0.netnsName, "http://10.43.0.13/");
    assert.deepEqual(answer, { ...answer, ok: true, body: "a0" });
  });

  await t.step("sessionAffinity ClientIP keeps a client on one endpoint, across rule updates", async () => {
    await publish(
      service("sticky", { clusterIP: "10.43.0.14", sessionAffinity: "ClientIP", ports: [{ port: 80 }] }),
      slice("sticky", [{ ip: pods.a0.ip }, { ip: pods.b1.ip }], http()),
    );
    const first = tally(await getMany(pods.c0.netnsName, "http://10.43.0.14/", 12));
    assert.equal(Object.keys(first).length, 1, JSON.stringify(first));
    await publish(
      service("other", { clusterIP: "10.43.0.15", ports: [{ port: 80 }] }),
      slice("other", [{ ip: pods.a0.ip }], http()),
    );
    for (const proxy of c.proxies) await proxy.sync({ full: true });
    const after = tally(await getMany(pods.c0.netnsName, "http://10.43.0.14/", 6));
    assert.deepEqual(Object.keys(after), Object.keys(first));
  });

  await t.step("a Service with no ready endpoints refuses connections at once", async () => {
    await publish(
      service("empty", { clusterIP: "10.43.0.16", type: "NodePort", ports: [{ port: 80, nodePort: 30082 }] }),
      slice("empty", [{ ip: pods.a0.ip, ready: false }], http()),
    );
    for (
      const [netns, url] of [
        [pods.c0.netnsName, "http://10.43.0.16/"],
        [outside.netns, `http://${n0.address}:30082/`],
        [n0.netns, "http://10.43.0.16/"],
        [pods.c0.netnsName, "http://10.43.0.99/"],
      ] as const
    ) {
      const answer = await get(netns, url);
      assert.equal(answer.ok, false, `${url} from ${netns} must fail`);
      assert.match(answer.body, /Connection refused/);
      // A black hole would run into wget's 5 s timeout; the bound leaves room for a loaded machine.
      assert.ok(answer.ms < 4000, `${url} from ${netns} was refused after ${Math.round(answer.ms)} ms`);
    }
    // Scaling an existing Service to no ready endpoints: refused too.
    await publish(
      service("web", { clusterIP: "10.43.0.10", type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }),
      slice("web", [{ ip: pods.a0.ip, ready: false }, { ip: pods.b1.ip, terminating: true, ready: false }], http()),
    );
    const answer = await get(pods.c0.netnsName, "http://10.43.0.10/");
    assert.equal(answer.ok, false);
    assert.match(answer.body, /Connection refused/);
    assert.ok(answer.ms < 4000, `refused after ${Math.round(answer.ms)} ms`);
  });

  await t.step("an established connection survives rule updates, a full rewrite and a restarted proxy", async () => {
    c.spawn(pods.b1.netnsName, ["busybox", "nc", "-l", "-p", "7000", "-e", "/bin/cat"]);
    await waitFor("the echo server to listen", async () => {
      const listening = await run(["ss", "-Hltn", "sport = :7000"], { netns: pods.b1.netnsName, check: false });
      return listening.stdout.trim() !== "";
    });
    await publish(
      service("echo", { clusterIP: "10.43.0.17", ports: [{ port: 7000 }] }),
      slice("echo", [{ ip: pods.b1.ip }], http(7000)),
    );
    const client = c.spawn(pods.c0.netnsName, ["busybox", "nc", "10.43.0.17", "7000"], "piped");
    const writer = client.stdin.getWriter();
    const reader = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const roundTrip = async (line: string) => {
      await writer.write(new TextEncoder().encode(`${line}\n`));
      let got = "";
      const deadline = setTimeout(() => reader.cancel(), 5000);
      try {
        while (!got.includes("\n")) {
          const { value, done } = await reader.read();
          if (done) break;
          got += value;
        }
      } finally {
        clearTimeout(deadline);
      }
      return got.trim();
    };
    assert.equal(await roundTrip("one"), "one");
    await publish(
      service("echo", { clusterIP: "10.43.0.17", ports: [{ port: 7000 }] }),
      slice("echo", [{ ip: pods.b1.ip }, { ip: pods.a0.ip }], http(7000)),
    );
    assert.equal(await roundTrip("two"), "two");
    for (const proxy of c.proxies) assert.equal((await proxy.sync({ full: true }))?.mode, "full");
    assert.equal(await roundTrip("three"), "three");

    // The agent restarts: the old proxy exits leaving its table, a new one rewrites it in one transaction.
    const old = c.proxies[0]!;
    await old.stop({ keepTable: true });
    assert.equal(await roundTrip("four"), "four");
    const restarted = new ServiceProxy({
      source: { client: c.client },
      nodeAddresses: [n0.address],
      podCidr: "10.42.1.0/24",
      netns: n0.netns,
      log: () => {},
    });
    c.proxies.push(restarted);
    await restarted.start();
    assert.equal(restarted.lastApply?.mode, "full");
    assert.equal(await roundTrip("five"), "five");
    assert.deepEqual(tally(await getMany(pods.c0.netnsName, "http://10.43.0.13/", 2)), { a0: 2 });

    await restarted.stop();
    assert.equal((await run(["nft", "list", "tables"], { netns: n0.netns })).stdout.includes("skiff"), false);
    await writer.close();
  });
}
