import assert from "node:assert/strict";
import { createLab, createTempDir, requireTools } from "../../test/support/mod.ts";
import { CniPodNetwork } from "./pod_network.ts";
import { HostGwRoutes, masqueradeScope, SKIFF_ROUTE_PROTOCOL } from "./routes.ts";
import { deleteNetnsWithPrefix, pings, recordingExec } from "./_test_support.ts";

Deno.test("HostGwRoutes.syncRoutes() replaces routes to other nodes and removes only stale routes of its own", async () => {
  const { exec, commands } = recordingExec((cmd) =>
    cmd.includes("show")
      ? {
        stdout: JSON.stringify([
          { dst: "10.42.2.0/24", gateway: "192.168.1.12", dev: "eth0" },
          { dst: "10.42.3.0/24", gateway: "192.168.1.99", dev: "eth0" },
          { dst: "10.42.9.0/24", gateway: "192.168.1.19", dev: "eth0" },
        ]),
      }
      : {}
  );
  const routes = new HostGwRoutes({ exec, netns: "node-a" });
  const report = await routes.syncRoutes({
    podCidrsByNodeAddress: {
      "192.168.1.11": "10.42.1.0/24",
      "192.168.1.12": "10.42.2.0/24",
      "192.168.1.13": "10.42.3.0/24",
    },
    own: "192.168.1.11",
  });

  assert.deepEqual(report, {
    added: [{ cidr: "10.42.3.0/24", via: "192.168.1.13" }],
    removed: [{ cidr: "10.42.9.0/24", via: "192.168.1.19" }],
    unchanged: [{ cidr: "10.42.2.0/24", via: "192.168.1.12" }],
    failures: [],
  });
  assert.deepEqual(commands.map((c) => c.cmd.join(" ")), [
    "ip -j -4 route show table main proto 152",
    "ip route replace 10.42.3.0/24 via 192.168.1.13 proto 152",
    "ip route del 10.42.9.0/24 via 192.168.1.19 proto 152",
  ]);
  assert.ok(commands.every((c) => c.options.netns === "node-a"));
});

Deno.test("HostGwRoutes.syncRoutes() with an invalid or overlapping entry throws TypeError and changes nothing", async () => {
  const { exec, commands } = recordingExec();
  const routes = new HostGwRoutes({ exec });
  await assert.rejects(
    routes.syncRoutes({ podCidrsByNodeAddress: { "192.168.1.300": "10.42.1.0/24" }, own: "192.168.1.11" }),
    { name: "TypeError", message: /^Invalid node address "192\.168\.1\.300"/ },
  );
  await assert.rejects(
    routes.syncRoutes({ podCidrsByNodeAddress: { "192.168.1.12": "10.42.1.1/24" }, own: "192.168.1.11" }),
    { name: "TypeError", message: /^Invalid pod CIDR of node 192\.168\.1\.12 "10\.42\.1\.1\/24": host bits are set/ },
  );
  await assert.rejects(
    routes.syncRoutes({
      podCidrsByNodeAddress: new Map([["192.168.1.12", "10.42.0.0/16"], ["192.168.1.13", "10.42.3.0/24"]]),
      own: "192.168.1.11",
    }),
    /node 192\.168\.1\.12 \(10\.42\.0\.0\/16\) and node 192\.168\.1\.13 \(10\.42\.3\.0\/24\) have overlapping pod CIDRs/,
  );
  await assert.rejects(
    routes.syncRoutes({ podCidrsByNodeAddress: {}, own: "pi-3" }),
    /^TypeError: Invalid own address "pi-3"/,
  );
  assert.deepEqual(commands, []);
});

Deno.test("HostGwRoutes.syncRoutes() reports a route it cannot add and still syncs the others", async () => {
  const { exec } = recordingExec((cmd) => {
    if (cmd.includes("show")) return { stdout: "[]" };
    if (cmd.includes("10.42.2.0/24")) throw new Error("Nexthop has invalid gateway");
    return {};
  });
  const report = await new HostGwRoutes({ exec }).syncRoutes({
    podCidrsByNodeAddress: { "10.0.0.2": "10.42.2.0/24", "192.168.1.13": "10.42.3.0/24" },
    own: "192.168.1.11",
  });
  assert.deepEqual(report.added, [{ cidr: "10.42.3.0/24", via: "192.168.1.13" }]);
  assert.equal(report.failures.length, 1);
  assert.deepEqual(report.failures[0]?.route, { cidr: "10.42.2.0/24", via: "10.0.0.2" });
  assert.match(report.failures[0]!.error.message, /Nexthop has invalid gateway/);
});

Deno.test("HostGwRoutes.prepare() enables forwarding and loose reverse-path filtering", async () => {
  const { exec, commands } = recordingExec();
  await new HostGwRoutes({ exec, netns: "n1" }).prepare();
  assert.deepEqual(commands, [{
    cmd: [
      "sysctl",
      "-w",
      "net.ipv4.ip_forward=1",
      "net.ipv4.conf.all.rp_filter=2",
      "net.ipv4.conf.default.rp_filter=2",
    ],
    options: { netns: "n1" },
  }]);
});

Deno.test("HostGwRoutes() refuses an invalid protocol number or namespace name", () => {
  assert.throws(() => new HostGwRoutes({ protocol: 0 }), /Invalid option "protocol": 0 is not a whole number/);
  assert.throws(() => new HostGwRoutes({ netns: "a b" }), /Invalid option "netns": "a b"/);
});

Deno.test("masqueradeScope() normalizes the node's and the cluster's pod ranges and checks one holds the other", () => {
  assert.deepEqual(masqueradeScope({ podCidr: "10.42.3.0/24" }), {
    podCidr: "10.42.3.0/24",
    clusterCidr: "10.42.0.0/16",
  });
  assert.throws(
    () => masqueradeScope({ podCidr: "10.50.3.0/24", clusterCidr: "10.42.0.0/16" }),
    /Invalid option "podCidr": 10\.50\.3\.0\/24 is not inside the cluster CIDR 10\.42\.0\.0\/16/,
  );
});

const needs = requireTools(["ip", "busybox", "sysctl", "iptables", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local"], {
  root: true,
});

Deno.test({
  name: "HostGwRoutes on two lab nodes lets pods on different nodes reach each other",
  ...needs,
  fn: async (t) => {
    await using tmp = await createTempDir({ prefix: "skiff-routes-" });
    await using lab = await createLab({ nodes: 2 });
    const prefix = `skiff-${lab.name}-`;
    const networks: CniPodNetwork[] = [];
    try {
      const nodes = lab.nodes.map((node, i) => {
        const network = new CniPodNetwork({
          nodeName: node.netns,
          podCidr: `10.42.${i + 1}.0/24`,
          stateDir: tmp.join(node.netns),
          hostNetns: node.netns,
        });
        networks.push(network);
        return { node, network, routes: new HostGwRoutes({ netns: node.netns }) };
      });
      const pods = await Promise.all(
        nodes.map(({ network }, i) =>
          network.setup({ podUid: crypto.randomUUID(), namespace: "default", name: `pod-${i}` })
        ),
      );
      const [pod0, pod1] = pods as [typeof pods[0], typeof pods[0]];
      const podCidrsByNodeAddress = Object.fromEntries(
        nodes.map(({ node, network }) => [node.address, network.podCidr]),
      );

      // Where node 0 sends traffic for pod 1: the lab's default gateway until
      // syncRoutes() (no ping then, so nothing leaves the lab), node 1 after.
      const nextHop = async () =>
        (JSON.parse((await lab.exec(0, ["ip", "-j", "route", "get", pod1.ip])).stdout) as { gateway?: string }[])[0]
          ?.gateway;

      await t.step("before syncRoutes() a node has no route to another node's pods", async () => {
        assert.equal(await nextHop(), lab.gateway);
      });

      await t.step("prepare() sets forwarding and rp_filter inside the node", async () => {
        await nodes[0]!.routes.prepare();
        const values = await lab.exec(0, [
          "cat",
          "/proc/sys/net/ipv4/ip_forward",
          "/proc/sys/net/ipv4/conf/all/rp_filter",
          "/proc/sys/net/ipv4/conf/default/rp_filter",
        ]);
        assert.equal(values.stdout, "1\n2\n2\n");
      });

      await t.step("syncRoutes() on both nodes makes pods reach each other both ways", async () => {
        for (const { node, routes } of nodes) {
          await routes.prepare();
          const report = await routes.syncRoutes({ podCidrsByNodeAddress, own: node.address });
          assert.equal(report.added.length, 1);
          assert.deepEqual(report.failures, []);
        }
        assert.equal(await nextHop(), lab.nodes[1]!.address);
        assert.equal(await pings(pod0.netnsName, pod1.ip), true);
        assert.equal(await pings(pod1.netnsName, pod0.ip), true);
        const shown = await lab.exec(0, ["ip", "route", "show", "proto", String(SKIFF_ROUTE_PROTOCOL)]);
        assert.equal(shown.stdout.trim(), `10.42.2.0/24 via ${lab.nodes[1]!.address} dev eth0`);
      });

      await t.step("a second syncRoutes() with the same input changes nothing", async () => {
        const report = await nodes[0]!.routes.syncRoutes({ podCidrsByNodeAddress, own: lab.nodes[0]!.address });
        assert.deepEqual(report.added, []);
        assert.deepEqual(report.unchanged, [{ cidr: "10.42.2.0/24", via: lab.nodes[1]!.address }]);
      });

      await t.step(
        "syncRoutes() without the other node removes its route and leaves routes it did not add",
        async () => {
          await lab.exec(0, ["ip", "route", "add", "10.99.0.0/24", "via", lab.nodes[1]!.address]);
          const report = await nodes[0]!.routes.syncRoutes({
            podCidrsByNodeAddress: { [lab.nodes[0]!.address]: "10.42.1.0/24" },
            own: lab.nodes[0]!.address,
          });
          assert.deepEqual(report.removed, [{ cidr: "10.42.2.0/24", via: lab.nodes[1]!.address }]);
          assert.deepEqual(await nodes[0]!.routes.list(), []);
          const left = await lab.exec(0, ["ip", "-4", "route", "show", "10.99.0.0/24"]);
          assert.match(left.stdout, /^10\.99\.0\.0\/24 via /);
          assert.equal(await nextHop(), lab.gateway);
        },
      );
    } finally {
      for (const network of networks) await network.gc([]).catch(() => {});
      await deleteNetnsWithPrefix(prefix);
    }
  },
});
