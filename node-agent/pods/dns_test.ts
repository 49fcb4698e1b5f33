import assert from "node:assert/strict";
import { join } from "node:path";
import type { Pod } from "@skiff/api";
import { podHostname, podHostsFile, podResolvConfText, readNodeResolvConf } from "./dns.ts";

const NODE = "search lan\nnameserver 192.168.1.1\n";
const CLUSTER_DNS = { nameserver: "10.43.0.10", searchDomain: "cluster.local" };

function pod(spec: Partial<NonNullable<Pod["spec"]>> = {}): Pod {
  return {
    metadata: { name: "web-0", namespace: "shop", uid: "u" },
    spec: { containers: [{ name: "app", image: "busybox" }], ...spec },
  };
}

Deno.test("podResolvConfText() with ClusterFirst uses the cluster DNS and the namespace's search path", () => {
  assert.equal(
    podResolvConfText(pod(), { clusterDns: CLUSTER_DNS, nodeResolvConf: NODE }),
    "nameserver 10.43.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local lan\noptions ndots:5\n",
  );
});

Deno.test("podResolvConfText() uses the node's configuration without a cluster DNS, on the host network, or with Default", () => {
  const node = "nameserver 192.168.1.1\nsearch lan\n";
  assert.equal(podResolvConfText(pod(), { nodeResolvConf: NODE }), node);
  assert.equal(podResolvConfText(pod({ hostNetwork: true }), { clusterDns: CLUSTER_DNS, nodeResolvConf: NODE }), node);
  assert.equal(
    podResolvConfText(pod({ dnsPolicy: "Default" }), { clusterDns: CLUSTER_DNS, nodeResolvConf: NODE }),
    node,
  );
  assert.match(
    podResolvConfText(pod({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }), {
      clusterDns: CLUSTER_DNS,
      nodeResolvConf: NODE,
    }),
    /^nameserver 10\.43\.0\.10\n/,
  );
  assert.equal(
    podResolvConfText(pod({ dnsPolicy: "None", dnsConfig: { nameservers: ["9.9.9.9"] } }), { nodeResolvConf: NODE }),
    "nameserver 9.9.9.9\n",
  );
});

Deno.test("podHostsFile() names the pod at its address, with its FQDN under a subdomain, and adds host aliases", () => {
  const plain = podHostsFile(pod(), { podIPs: ["10.42.0.7"] });
  assert.match(plain, /^# Kubernetes-managed hosts file\.\n127\.0\.0\.1\tlocalhost\n/);
  assert.match(plain, /\n10\.42\.0\.7\tweb-0\n$/);
  const fqdn = podHostsFile(
    pod({ hostname: "db", subdomain: "backend", hostAliases: [{ ip: "10.0.0.5", hostnames: ["nas", "nas.lan"] }] }),
    { podIPs: ["10.42.0.8"] },
  );
  assert.match(fqdn, /\n10\.42\.0\.8\tdb\.backend\.shop\.svc\.cluster\.local\tdb\n/);
  assert.match(fqdn, /\n# Entries added by HostAliases\.\n10\.0\.0\.5\tnas\n10\.0\.0\.5\tnas\.lan\n$/);
});

Deno.test("podHostsFile() of a host-network pod is the node's file plus host aliases", () => {
  const text = podHostsFile(pod({ hostNetwork: true, hostAliases: [{ ip: "10.0.0.5", hostnames: ["nas"] }] }), {
    podIPs: ["192.168.1.10"],
    nodeHosts: "127.0.0.1 localhost\n192.168.1.10 pi-3",
  });
  assert.equal(
    text,
    "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.168.1.10 pi-3\n" +
      "\n# Entries added by HostAliases.\n10.0.0.5\tnas\n",
  );
});

Deno.test("podHostname() is spec.hostname or the pod name cut to 63 characters", () => {
  assert.equal(podHostname(pod({ hostname: "db" })), "db");
  assert.equal(podHostname({ metadata: { name: `${"a".repeat(62)}-b` } }), "a".repeat(62));
});

Deno.test("readNodeResolvConf() looks past a loopback stub resolver to the upstream file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const main = join(dir, "resolv.conf");
    const upstream = join(dir, "upstream.conf");
    await Deno.writeTextFile(main, "nameserver 127.0.0.53\nsearch lan\n");
    assert.equal(await readNodeResolvConf({ main, upstream }), "nameserver 127.0.0.53\nsearch lan\n");
    await Deno.writeTextFile(upstream, "nameserver 192.168.1.1\n");
    assert.equal(await readNodeResolvConf({ main, upstream }), "nameserver 192.168.1.1\n");
    assert.equal(await readNodeResolvConf({ main: join(dir, "none"), upstream }), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
