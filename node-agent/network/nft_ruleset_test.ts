import assert from "node:assert/strict";
import { requireTools } from "../../test/support/mod.ts";
import { run } from "../_exec.ts";
import {
  buildRuleset,
  isUpdatable,
  type NftRuleset,
  type ProxyService,
  type ProxyState,
  renderRuleset,
  renderTransaction,
  RulesetBuilder,
} from "./nft_ruleset.ts";

const web: ProxyService = {
  namespace: "default",
  name: "web",
  clusterIP: "10.43.0.10",
  ports: [{
    name: "http",
    protocol: "TCP",
    port: 80,
    endpoints: [
      { address: "10.42.2.5", port: 8080 },
      { address: "10.42.1.5", port: 8080 },
      { address: "10.42.1.6", port: 8080 },
    ],
  }],
};

function state(services: ProxyService[], extra: Partial<ProxyState> = {}): ProxyState {
  return { services, nodeAddresses: ["192.168.77.2"], podCidr: "10.42.1.0/24", ...extra };
}

function chain(ruleset: NftRuleset, name: string): string[] {
  const found = ruleset.chains.find((c) => c.name === name);
  assert.ok(found, `chain "${name}" is in the ruleset (chains: ${ruleset.chains.map((c) => c.name).join(", ")})`);
  return found.rules;
}

function elements(ruleset: NftRuleset, name: string): string[] {
  const found = ruleset.sets.find((s) => s.name === name);
  assert.ok(found, `set "${name}" is in the ruleset`);
  return found.elements.map((e) => e.value === undefined ? e.key : `${e.key} : ${e.value}`);
}

Deno.test("buildRuleset() sends a ClusterIP port to its endpoints with uniform numgen picks", () => {
  const ruleset = buildRuleset(state([web]));
  assert.deepEqual(elements(ruleset, "service-ips"), ["10.43.0.10 . tcp . 80 : goto svc-default/web/tcp/http"]);
  assert.deepEqual(chain(ruleset, "svc-default/web/tcp/http"), [
    "ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
    "numgen random mod 3 0 meta l4proto tcp dnat to 10.42.1.5:8080",
    "numgen random mod 2 0 meta l4proto tcp dnat to 10.42.1.6:8080",
    "meta l4proto tcp dnat to 10.42.2.5:8080",
  ]);
  assert.deepEqual(chain(ruleset, "services"), [
    "ip daddr . meta l4proto . th dport vmap @service-ips",
    "ip daddr @node-ips meta l4proto . th dport vmap @service-nodeports",
  ]);
  assert.deepEqual(chain(ruleset, "nat-prerouting"), ["jump services"]);
  assert.equal(
    ruleset.chains.find((c) => c.name === "nat-output")?.hook,
    "type nat hook output priority -100; policy accept;",
  );
  assert.deepEqual(elements(ruleset, "no-endpoint-services"), []);
});

Deno.test("buildRuleset() puts a port without ready endpoints in the reject maps instead of service-ips", () => {
  const empty: ProxyService = {
    ...web,
    type: "NodePort",
    ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080, endpoints: [] }],
  };
  const ruleset = buildRuleset(state([empty]));
  assert.deepEqual(elements(ruleset, "service-ips"), []);
  assert.deepEqual(elements(ruleset, "service-nodeports"), []);
  assert.deepEqual(elements(ruleset, "no-endpoint-services"), ["10.43.0.10 . tcp . 80 : goto reject-service"]);
  assert.deepEqual(elements(ruleset, "no-endpoint-nodeports"), ["tcp . 30080 : goto reject-service"]);
  assert.deepEqual(chain(ruleset, "reject-unserved"), [
    "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
    "ip daddr @node-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
    "ip daddr 10.43.0.0/16 goto reject-service",
  ]);
  assert.deepEqual(chain(ruleset, "reject-service"), [
    "meta l4proto tcp reject with tcp reset",
    "reject with icmp port-unreachable",
  ]);
  for (const hook of ["filter-input", "filter-forward", "filter-output"]) {
    assert.deepEqual(chain(ruleset, hook), ["ct state new jump reject-unserved"]);
  }
  assert.ok(!ruleset.chains.some((c) => c.name.startsWith("svc-")), "no Service chain without endpoints");
});

Deno.test("buildRuleset() answers NodePorts and external addresses through a chain that masquerades", () => {
  const exposed: ProxyService = {
    ...web,
    type: "LoadBalancer",
    externalAddresses: ["192.168.77.200"],
    ports: [{ ...web.ports[0]!, nodePort: 30080 }],
  };
  const ruleset = buildRuleset(state([exposed]));
  assert.deepEqual(elements(ruleset, "service-ips"), [
    "10.43.0.10 . tcp . 80 : goto svc-default/web/tcp/http",
    "192.168.77.200 . tcp . 80 : goto ext-default/web/tcp/http",
  ]);
  assert.deepEqual(elements(ruleset, "service-nodeports"), ["tcp . 30080 : goto ext-default/web/tcp/http"]);
  assert.deepEqual(chain(ruleset, "ext-default/web/tcp/http"), [
    "jump mark-for-masquerade",
    "goto svc-default/web/tcp/http",
  ]);
  assert.deepEqual(elements(ruleset, "node-ips"), ["192.168.77.2"]);

  const anyAddress = buildRuleset(state([exposed], { nodeAddresses: [] }));
  assert.equal(anyAddress.sets.find((s) => s.name === "node-ips"), undefined);
  assert.deepEqual(
    chain(anyAddress, "services")[1],
    "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
  );

  const clusterIpOnly = buildRuleset(state([{ ...exposed, type: "ClusterIP", externalAddresses: [] }]));
  assert.deepEqual(elements(clusterIpOnly, "service-nodeports"), [], "a ClusterIP Service's nodePort is ignored");
  assert.ok(!clusterIpOnly.chains.some((c) => c.name.startsWith("ext-")));
});

Deno.test("buildRuleset() with externalTrafficPolicy Local keeps outside clients on this node's endpoints", () => {
  const local: ProxyService = {
    ...web,
    type: "NodePort",
    externalTrafficPolicy: "Local",
    ports: [{ ...web.ports[0]!, nodePort: 30080 }],
  };
  const ruleset = buildRuleset(state([local]));
  assert.deepEqual(chain(ruleset, "ext-default/web/tcp/http"), [
    "ip saddr 10.42.0.0/16 goto svc-default/web/tcp/http",
    "fib saddr type local jump mark-for-masquerade",
    "fib saddr type local goto svc-default/web/tcp/http",
    "goto local-default/web/tcp/http",
  ]);
  assert.deepEqual(chain(ruleset, "local-default/web/tcp/http"), [
    "numgen random mod 2 0 meta l4proto tcp dnat to 10.42.1.5:8080",
    "meta l4proto tcp dnat to 10.42.1.6:8080",
  ]);
  const elsewhere = buildRuleset(state([local], { podCidr: "10.42.9.0/24" }));
  assert.equal(chain(elsewhere, "ext-default/web/tcp/http").at(-1), "drop");
  assert.ok(!elsewhere.chains.some((c) => c.name.startsWith("local-")));
});

Deno.test("buildRuleset() with ClientIP affinity records each client per endpoint in a timed set", () => {
  const sticky: ProxyService = {
    ...web,
    sessionAffinity: "ClientIP",
    ports: [{ ...web.ports[0]!, endpoints: web.ports[0]!.endpoints.slice(0, 2) }],
  };
  const ruleset = buildRuleset(state([sticky]));
  const id = "default/web/tcp/http";
  assert.deepEqual(chain(ruleset, `svc-${id}`), [
    "ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
    `ip saddr @aff-${id}__10.42.1.5/8080/10800s goto ep-${id}__10.42.1.5/8080`,
    `ip saddr @aff-${id}__10.42.2.5/8080/10800s goto ep-${id}__10.42.2.5/8080`,
    `numgen random mod 2 0 goto ep-${id}__10.42.1.5/8080`,
    `goto ep-${id}__10.42.2.5/8080`,
  ]);
  assert.deepEqual(chain(ruleset, `ep-${id}__10.42.1.5/8080`), [
    `update @aff-${id}__10.42.1.5/8080/10800s { ip saddr }`,
    "meta l4proto tcp dnat to 10.42.1.5:8080",
  ]);
  const set = ruleset.sets.find((s) => s.name === `aff-${id}__10.42.1.5/8080/10800s`);
  assert.deepEqual(set, {
    kind: "set",
    name: `aff-${id}__10.42.1.5/8080/10800s`,
    spec: ["type ipv4_addr", "flags dynamic,timeout", "timeout 10800s"],
    dynamic: true,
    elements: [],
  });
  const shorter = buildRuleset(state([{ ...sticky, sessionAffinityTimeoutSeconds: 60 }]));
  assert.ok(shorter.sets.some((s) => s.name === `aff-${id}__10.42.1.5/8080/60s` && s.spec.includes("timeout 60s")));
});

Deno.test("buildRuleset() masquerades marked, hairpin and cluster-leaving traffic after routing", () => {
  const ruleset = buildRuleset(state([web]));
  assert.deepEqual(chain(ruleset, "nat-postrouting"), [
    "meta mark & 0x00004000 == 0x00004000 meta mark set meta mark & 0xffffbfff masquerade",
    "ct status dnat ip saddr . ip daddr @hairpin masquerade",
    "ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16 masquerade",
  ]);
  assert.deepEqual(chain(ruleset, "mark-for-masquerade"), ["meta mark set meta mark | 0x00004000"]);
  assert.deepEqual(elements(ruleset, "hairpin"), ["10.42.1.5 . 10.42.1.5", "10.42.1.6 . 10.42.1.6"]);
});

Deno.test("buildRuleset() names objects deterministically, hashing long or unusual names", () => {
  const long: ProxyService = { ...web, name: "x".repeat(120) };
  const odd: ProxyService = { ...web, name: "Web Server", clusterIP: "10.43.0.11" };
  const a = buildRuleset(state([long, odd]));
  const b = buildRuleset(state([odd, long]));
  assert.deepEqual(a, b);
  const names = a.chains.map((c) => c.name).filter((n) => n.startsWith("svc-"));
  assert.equal(names.length, 2);
  for (const name of names) assert.match(name, /^svc-[0-9a-f]{20}$/);
  assert.notEqual(names[0], names[1]);
});

Deno.test("buildRuleset() gives an address and port claimed twice to the first Service by namespace and name", () => {
  const other: ProxyService = {
    ...web,
    name: "aaa",
    ports: [{ ...web.ports[0]!, endpoints: [{ address: "10.42.1.9", port: 80 }] }],
  };
  const ruleset = buildRuleset(state([web, other]));
  assert.deepEqual(elements(ruleset, "service-ips"), ["10.43.0.10 . tcp . 80 : goto svc-default/aaa/tcp/http"]);
});

Deno.test("buildRuleset() refuses a state that is not valid, naming the field", () => {
  const bad = (services: unknown[], extra: Partial<ProxyState> = {}) => () =>
    buildRuleset(state(services as ProxyService[], extra));
  assert.throws(
    bad([{ ...web, clusterIP: "10.43.0.300" }]),
    /^TypeError: Invalid services\[0\]\.clusterIP "10\.43\.0\.300"/,
  );
  assert.throws(
    bad([{ ...web, ports: [{ ...web.ports[0], protocol: "ICMP" }] }]),
    /Invalid services\[0\]\.ports\[0\]\.protocol "ICMP": expected TCP, UDP or SCTP/,
  );
  assert.throws(
    bad([{ ...web, ports: [{ ...web.ports[0], endpoints: [{ address: "10.42.1.5", port: 0 }] }] }]),
    /Invalid services\[0\]\.ports\[0\]\.endpoints\[0\]\.port 0: expected a port from 1 to 65535/,
  );
  assert.throws(bad([{ ...web, sessionAffinityTimeoutSeconds: 0 }]), /sessionAffinityTimeoutSeconds 0/);
  assert.throws(() => buildRuleset(state([], { nodeAddresses: ["pi-1"] })), /Invalid nodeAddresses\[0\] "pi-1"/);
  assert.throws(
    bad([], { podCidr: "10.50.1.0/24" }),
    /Invalid podCidr "10\.50\.1\.0\/24": it is not inside the cluster CIDR/,
  );
  assert.throws(bad([], { serviceCidr: "10.42.128.0/17" }), /Invalid serviceCidr "10\.42\.128\.0\/17": it overlaps/);
  assert.throws(bad([{ ...web, namespace: "" }]), /Invalid services\[0\]\.namespace ""/);
});

Deno.test("renderTransaction() from the same ruleset is empty, and an endpoint change rewrites only its chain", () => {
  const before = buildRuleset(state([web, { ...web, name: "api", clusterIP: "10.43.0.20" }]));
  assert.equal(renderTransaction(before, { previous: before }), "");
  const changed = structuredClone(web);
  changed.ports[0]!.endpoints.push({ address: "10.42.1.7", port: 8080 });
  const after = buildRuleset(state([changed, { ...web, name: "api", clusterIP: "10.43.0.20" }]));
  assert.ok(isUpdatable(before, after));
  assert.equal(
    renderTransaction(after, { previous: before }),
    [
      "flush chain ip skiff svc-default/web/tcp/http",
      "table ip skiff {",
      "\tchain svc-default/web/tcp/http {",
      "\t\tip saddr != 10.42.0.0/16 jump mark-for-masquerade",
      "\t\tnumgen random mod 4 0 meta l4proto tcp dnat to 10.42.1.5:8080",
      "\t\tnumgen random mod 3 0 meta l4proto tcp dnat to 10.42.1.6:8080",
      "\t\tnumgen random mod 2 0 meta l4proto tcp dnat to 10.42.1.7:8080",
      "\t\tmeta l4proto tcp dnat to 10.42.2.5:8080",
      "\t}",
      "}",
      "add element ip skiff hairpin { 10.42.1.7 . 10.42.1.7 }",
      "",
    ].join("\n"),
  );
});

Deno.test("RulesetBuilder.build() renders again only a changed Service, and builds what buildRuleset() does", () => {
  const builder = new RulesetBuilder();
  const api: ProxyService = { ...structuredClone(web), name: "api", clusterIP: "10.43.0.20", version: "7" };
  const first = builder.build(state([{ ...web, version: "5" }, api]));
  assert.deepEqual(first, buildRuleset(state([web, api])));

  const changed: ProxyService = { ...structuredClone(web), version: "6" };
  changed.ports[0]!.endpoints.push({ address: "10.42.1.7", port: 8080 });
  const second = builder.build(state([changed, api]));
  assert.deepEqual(second, buildRuleset(state([changed, api])));
  const find = (ruleset: NftRuleset, name: string) => ruleset.chains.find((c) => c.name === name);
  assert.equal(find(second, "svc-default/api/tcp/http"), find(first, "svc-default/api/tcp/http"));
  assert.notEqual(find(second, "svc-default/web/tcp/http"), find(first, "svc-default/web/tcp/http"));
  assert.equal(
    renderTransaction(second, { previous: first }),
    renderTransaction(buildRuleset(state([changed, api])), { previous: buildRuleset(state([web, api])) }),
  );

  // Without a version, the content decides.
  const third = builder.build(state([{ ...web }, { ...api, version: undefined }]));
  assert.deepEqual(third, buildRuleset(state([web, api])));
  // Another pod range renders everything again.
  const moved = builder.build(state([{ ...web }, api], { podCidr: "10.42.2.0/24" }));
  assert.deepEqual(moved, buildRuleset(state([web, api], { podCidr: "10.42.2.0/24" })));
});

Deno.test("RulesetBuilder.build() refuses a state that is not valid and keeps what it had", () => {
  const builder = new RulesetBuilder();
  const first = builder.build(state([{ ...web, version: "1" }]));
  assert.throws(
    () => builder.build(state([{ ...web, version: "2", clusterIP: "10.43.0.300" }])),
    /^TypeError: Invalid services\[0\]\.clusterIP "10\.43\.0\.300"/,
  );
  assert.throws(
    () => builder.build(state([{ ...web, version: 2 } as unknown as ProxyService])),
    /Invalid services\[0\]\.version 2: expected a string/,
  );
  assert.throws(
    () => builder.build(state([web, { ...web, namespace: 7 } as unknown as ProxyService])),
    /Invalid services\[1\]\.namespace 7/,
  );
  const again = builder.build(state([{ ...web, version: "1" }]));
  assert.equal(
    again.chains.find((c) => c.name.startsWith("svc-")),
    first.chains.find((c) => c.name.startsWith("svc-")),
  );
});

Deno.test("renderTransaction() removing a Service deletes its map entries before its chains", () => {
  const before = buildRuleset(state([web]));
  const script = renderTransaction(buildRuleset(state([])), { previous: before });
  const lines = script.trim().split("\n");
  const deleteElement = lines.indexOf("delete element ip skiff service-ips { 10.43.0.10 . tcp . 80 }");
  const deleteChain = lines.indexOf("delete chain ip skiff svc-default/web/tcp/http");
  assert.ok(deleteElement >= 0 && deleteChain > deleteElement, script);
});

Deno.test("renderTransaction() from a listing rewrites everything and deletes what is not wanted", () => {
  const script = renderTransaction(buildRuleset(state([web])), {
    existing: { chains: ["svc-default/old/tcp/80", "services"], sets: [{ name: "aff-old", kind: "set" }] },
  });
  const lines = script.trim().split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    "add table ip skiff",
    "flush table ip skiff",
    "add map ip skiff service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }",
    "flush map ip skiff service-ips",
  ]);
  assert.deepEqual(lines.slice(-2), ["delete set ip skiff aff-old", "delete chain ip skiff svc-default/old/tcp/80"]);
});

Deno.test("renderTransaction() recreates the table when a set changes its type", () => {
  const before = buildRuleset(state([web]));
  const after = structuredClone(before);
  after.sets.find((s) => s.name === "hairpin")!.spec = ["type ipv4_addr"];
  assert.equal(isUpdatable(before, after), false);
  assert.match(
    renderTransaction(after, { previous: before }),
    /^add table ip skiff\ndelete table ip skiff\ntable ip skiff \{/,
  );
});

const needs = requireTools(["ip", "nft"], { root: true });

/** Runs `fn` with a network namespace of its own, deleted afterwards whatever happens. */
async function withNetns(fn: (netns: string) => Promise<void>): Promise<void> {
  const netns = `skiff-nftr-${crypto.randomUUID().slice(0, 8)}`;
  await run(["ip", "netns", "add", netns]);
  try {
    await fn(netns);
  } finally {
    await run(["ip", "netns", "del", netns], { check: false });
  }
}

const nft = (netns: string, script: string, ...flags: string[]) =>
  run(["nft", ...flags, "-f", "-"], { netns, stdin: script });

/** The table as the kernel has it, in a form where order of chains and elements does not matter. */
async function listed(netns: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(["nft", "-j", "list", "table", "ip", "skiff"], { netns });
  const items = (JSON.parse(stdout) as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
  const out: Record<string, unknown> = {};
  const rules: Record<string, unknown[]> = {};
  for (const item of items) {
    if (item.chain) out[`chain ${item.chain.name}`] = [item.chain.type, item.chain.hook, item.chain.prio];
    if (item.rule) (rules[item.rule.chain as string] ??= []).push(item.rule.expr);
    for (const kind of ["set", "map"]) {
      const set = item[kind];
      if (!set) continue;
      const elem = ((set.elem ?? []) as unknown[]).map((e) => JSON.stringify(e)).sort();
      out[`${kind} ${set.name}`] = [set.type, set.map, set.flags, set.timeout, elem];
    }
  }
  for (const [name, list] of Object.entries(rules)) out[`rules ${name}`] = list;
  return out;
}

Deno.test({
  name: "renderRuleset() output passes `nft -c` and loads twice in a row",
  ...needs,
  fn: () =>
    withNetns(async (netns) => {
      const script = renderRuleset(state([
        {
          ...web,
          type: "LoadBalancer",
          externalAddresses: ["192.168.77.200"],
          ports: [{ ...web.ports[0]!, nodePort: 30080 }],
        },
        {
          ...web,
          name: "sticky",
          clusterIP: "10.43.0.11",
          sessionAffinity: "ClientIP",
          externalTrafficPolicy: "Local",
        },
        {
          namespace: "kube-system",
          name: "dns",
          clusterIP: "10.43.0.53",
          ports: [
            { name: "dns", protocol: "UDP", port: 53, endpoints: [{ address: "10.42.3.3", port: 53 }] },
            { name: "dns-tcp", protocol: "TCP", port: 53, endpoints: [] },
            { name: "sctp", protocol: "SCTP", port: 9, endpoints: [{ address: "10.42.3.3", port: 9 }] },
          ],
        },
      ]));
      await nft(netns, script, "-c");
      await nft(netns, script);
      await nft(netns, script);
      const { stdout } = await run(["nft", "list", "chain", "ip", "skiff", "svc-default/web/tcp/http"], { netns });
      assert.match(stdout, /numgen random mod 3 0 meta l4proto tcp dnat to 10\.42\.1\.5:8080/);
    }),
});

Deno.test({
  name: "renderTransaction() differences applied one after another leave the table a fresh apply would",
  ...needs,
  fn: () =>
    withNetns(async (netns) => {
      // A small deterministic random walk over Services and endpoints.
      let seed = 7;
      const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      const randomState = (): ProxyState => {
        const services: ProxyService[] = [];
        for (let i = 0; i < 6; i++) {
          if (random(4) === 0) continue;
          services.push({
            namespace: "ns",
            name: `s${i}`,
            type: random(2) === 0 ? "NodePort" : "ClusterIP",
            clusterIP: `10.43.0.${i + 1}`,
            externalAddresses: random(3) === 0 ? [`192.168.77.${100 + i}`] : [],
            sessionAffinity: random(3) === 0 ? "ClientIP" : "None",
            sessionAffinityTimeoutSeconds: random(2) === 0 ? 10800 : 60,
            externalTrafficPolicy: random(2) === 0 ? "Local" : "Cluster",
            ports: [{
              name: "p",
              protocol: random(3) === 0 ? "UDP" : "TCP",
              port: 80,
              nodePort: 30000 + i,
              endpoints: Array.from({ length: random(4) }, () => ({
                address: `10.42.${1 + random(2)}.${2 + random(5)}`,
                port: 8080 + random(2),
              })),
            }],
          });
        }
        return state(services, { nodeAddresses: random(2) === 0 ? [] : ["192.168.77.2"] });
      };
      let previous: NftRuleset | undefined;
      const builder = new RulesetBuilder();
      for (let step = 0; step < 12; step++) {
        const current = randomState();
        const next = builder.build(current);
        assert.deepEqual(next, buildRuleset(current));
        const script = previous
          ? renderTransaction(next, { previous })
          : renderTransaction(next, { existing: undefined });
        if (script !== "") await nft(netns, script);
        const incremental = await listed(netns);
        await nft(netns, "add table ip skiff\ndelete table ip skiff\n");
        await nft(netns, renderTransaction(next, { existing: undefined }));
        assert.deepEqual(incremental, await listed(netns), `step ${step}:\n${script}`);
        previous = next;
      }
    }),
});
