import assert from "node:assert/strict";
import { run } from "./_run.ts";
import { createLab } from "./netns_lab.ts";
import { requireTools } from "./requirements.ts";

const needs = requireTools(["ip", "busybox", "sh"], { root: true });

async function netnsNames(): Promise<string[]> {
  const out = (await run(["ip", "-j", "netns", "list"])).stdout.trim();
  return out === "" ? [] : (JSON.parse(out) as { name: string }[]).map((ns) => ns.name);
}

async function linkNames(): Promise<string[]> {
  const out = (await run(["ip", "-j", "link", "show"])).stdout;
  return (JSON.parse(out) as { ifname: string }[]).map((link) => link.ifname);
}

Deno.test({
  name: "createLab() joins nodes that reach each other, partition() cuts one off, destroy() leaves nothing",
  ...needs,
  fn: async (t) => {
    const lab = await createLab({ nodes: 2 });
    try {
      const [a, b] = lab.nodes;
      assert.ok(a && b);

      await t.step("creates a bridge and one namespace per node", async () => {
        assert.match(lab.subnet, /^192\.168\.\d+\.0\/24$/);
        assert.ok((await linkNames()).includes(lab.bridge));
        const namespaces = await netnsNames();
        for (const node of lab.nodes) {
          assert.ok(namespaces.includes(node.netns), node.netns);
        }
        const eth0 = await lab.exec(b, ["ip", "-4", "-o", "addr", "show", "eth0"]);
        assert.match(eth0.stdout, new RegExp(`inet ${b.address}/24 `));
        const route = await lab.exec(1, ["ip", "route", "show", "default"]);
        assert.match(route.stdout, new RegExp(`via ${lab.gateway} dev eth0`));
        const sysctl = await lab.exec(0, [
          "cat",
          "/proc/sys/net/ipv4/ip_forward",
          "/proc/sys/net/ipv4/conf/all/rp_filter",
          "/proc/sys/net/ipv4/conf/eth0/rp_filter",
        ]);
        assert.equal(sysctl.stdout, "1\n0\n0\n");
      });

      await t.step("nodes ping each other across the bridge", async () => {
        const ping = await lab.exec(a, [
          "busybox",
          "ping",
          "-c",
          "1",
          "-W",
          "2",
          b.address,
        ]);
        assert.match(ping.stdout, /1 packets received/);
      });

      await t.step("a partitioned node is unreachable until healed", async () => {
        await lab.partition(b);
        const cut = await lab.exec(a, [
          "busybox",
          "ping",
          "-c",
          "1",
          "-W",
          "1",
          b.address,
        ], { check: false });
        assert.notEqual(cut.code, 0);

        await lab.heal(b);
        let healed = false;
        for (let attempt = 0; attempt < 5 && !healed; attempt++) {
          const ping = await lab.exec(a, [
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            b.address,
          ], { check: false });
          healed = ping.success;
        }
        assert.ok(healed, "the node answers again after heal()");
      });

      await t.step("exec() on an unknown node fails with a clear error", async () => {
        await assert.rejects(
          () => lab.exec(5, ["true"]),
          new RangeError(`Lab "${lab.name}" has no node 5`),
        );
      });

      await t.step("destroy() ends processes and removes every namespace and link", async () => {
        const sleeper = lab.spawn(a, ["sleep", "300"], {
          stdout: "null",
          stderr: "null",
        });
        await lab.destroy();
        const status = await sleeper.status;
        assert.equal(status.success, false);

        const namespaces = await netnsNames();
        const links = await linkNames();
        for (const node of lab.nodes) {
          assert.ok(!namespaces.includes(node.netns), node.netns);
          assert.ok(!links.includes(node.hostVeth), node.hostVeth);
        }
        assert.ok(!links.includes(lab.bridge));
        const addresses = await run(["ip", "-4", "-o", "addr", "show"]);
        assert.ok(!addresses.stdout.includes(` ${lab.gateway}/`));
      });

      await t.step("destroy() is safe to call twice", async () => {
        await lab.destroy();
      });
    } finally {
      await lab.destroy();
    }
  },
});

Deno.test({
  name: "createLab() gives labs running at the same time different names and subnets",
  ...needs,
  fn: async () => {
    const [one, two] = await Promise.all([
      createLab({ nodes: 1 }),
      createLab({ nodes: 1 }),
    ]);
    try {
      assert.notEqual(one.name, two.name);
      assert.notEqual(one.subnet, two.subnet);
      await one.exec(0, ["busybox", "ping", "-c", "1", "-W", "2", one.gateway]);
      await two.exec(0, ["busybox", "ping", "-c", "1", "-W", "2", two.gateway]);
    } finally {
      await one.destroy();
      await two.destroy();
    }
  },
});

Deno.test({
  name: "createLab() refuses a subnet already in use and bad options",
  ...needs,
  fn: async () => {
    await using lab = await createLab({ nodes: 1 });
    await assert.rejects(
      () => createLab({ nodes: 1, subnet: lab.subnet }),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.startsWith(
          `Invalid option "subnet": ${lab.subnet} overlaps`,
        ),
    );
    await assert.rejects(
      () => createLab({ nodes: 1, name: lab.name }),
      new RangeError(
        `Invalid option "name": lab "${lab.name}" is in use (link "${lab.name}" exists)`,
      ),
    );
    await assert.rejects(
      () => createLab({ nodes: 0 }),
      new RangeError(
        'Invalid option "nodes": 0 is not a whole number from 1 to 99',
      ),
    );
    await assert.rejects(
      () => createLab({ nodes: 1, subnet: "10.0.0.0/16" }),
      /Invalid option "subnet": "10.0.0.0\/16" is not an IPv4 \/24/,
    );
    await assert.rejects(
      () => createLab({ nodes: 1, name: "Way-Too-Long-Name" }),
      /Invalid option "name": "Way-Too-Long-Name" must be 1 to 10/,
    );
  },
});
