import assert from "node:assert/strict";
import { isIPv4 } from "node:net";
import { basename, join } from "node:path";
import { NotFoundError } from "@skiff/api";
import { run } from "../_exec.ts";
import { createLab, createTempDir, requireTools } from "../../test/support/mod.ts";
import { CniError, type CniResult } from "./cni_plugin.ts";
import { bridgeMasqueradeChain } from "./_bridge_masquerade.ts";
import { CniPodNetwork, type CniPodNetworkOptions } from "./pod_network.ts";
import { deleteNetnsWithPrefix, netnsNames, pings, recordingExec } from "./_test_support.ts";

const UID = "0c5d8e5f-8c1a-4a43-9d39-1f2a0c3b4d5e";

/** What the real bridge plugin answers, with an address no one would assume. */
const BRIDGE_RESULT: CniResult = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "skiff0", mac: "f2:c8:a1:9a:96:ee" },
    { name: "veth016878b6", mac: "ce:18:0a:65:d9:f1" },
    { name: "eth0", mac: "16:7e:5f:d9:36:ea", sandbox: "/run/netns/x" },
  ],
  ips: [{ interface: 2, address: "10.42.3.77/24", gateway: "10.42.3.1" }],
  routes: [{ dst: "0.0.0.0/0" }],
};

/** A directory with (empty) plugin binaries, so unit tests do not depend on the machine. */
async function fakeBinDir(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for (const name of ["loopback", "bridge", "portmap", "host-local"]) {
    await Deno.writeTextFile(join(dir, name), "");
  }
  return dir;
}

/** Answers plugin invocations like the real plugins; `fail` makes one of them fail. */
function fakePlugins(fail?: { plugin: string; command: string; stdout: string }) {
  return recordingExec((cmd, options) => {
    const plugin = basename(cmd[0] ?? "");
    const command = options.env?.CNI_COMMAND;
    if (cmd.join(" ") === "ip -j link show dev skiff0") return { stdout: '[{"address":"f2:00:00:00:00:01"}]' };
    if (fail && plugin === fail.plugin && command === fail.command) return { code: 1, stdout: fail.stdout };
    if (command !== "ADD") return {};
    if (plugin === "loopback") {
      return { stdout: JSON.stringify({ cniVersion: "1.0.0", interfaces: [{ name: "lo", sandbox: "/x" }] }) };
    }
    if (plugin === "bridge") return { stdout: JSON.stringify(BRIDGE_RESULT) };
    if (plugin === "portmap") {
      return { stdout: options.stdin === undefined ? "" : JSON.stringify(prevResultOf(options.stdin)) };
    }
    return {};
  });
}

function prevResultOf(stdin: string): unknown {
  return (JSON.parse(stdin) as { prevResult?: unknown }).prevResult;
}

Deno.test("CniPodNetwork() refuses invalid options, naming the option", () => {
  const base: CniPodNetworkOptions = { nodeName: "pi-3", podCidr: "10.42.3.0/24", stateDir: "/tmp/x" };
  assert.throws(
    () => new CniPodNetwork({ ...base, nodeName: "Pi_3" }),
    /^TypeError: Invalid option "nodeName": "Pi_3"/,
  );
  assert.throws(
    () => new CniPodNetwork({ ...base, podCidr: "10.42.3.1/24" }),
    /Invalid option "podCidr" "10\.42\.3\.1\/24": host bits are set \(the network is "10\.42\.3\.0\/24"\)/,
  );
  assert.throws(() => new CniPodNetwork({ ...base, podCidr: "10.42.3.0/31" }), /prefix length from 8 to 30/);
  assert.throws(() => new CniPodNetwork({ ...base, bridgeName: "a-very-long-bridge" }), /Invalid option "bridgeName"/);
  assert.throws(() => new CniPodNetwork({ ...base, hostNetns: "../x" }), /Invalid option "hostNetns": "..\/x"/);
  assert.throws(() => new CniPodNetwork({ ...base, stateDir: "" }), /Invalid option "stateDir"/);
});

Deno.test("CniPodNetwork.setup() refuses an invalid sandbox, naming the field, before running anything", async () => {
  const { exec, commands } = recordingExec();
  const network = new CniPodNetwork({ nodeName: "pi-3", podCidr: "10.42.3.0/24", stateDir: "/nonexistent", exec });
  const sandbox = { podUid: UID, namespace: "default", name: "web" };
  await assert.rejects(network.setup({ ...sandbox, podUid: "../etc" }), /^TypeError: Invalid podUid "..\/etc"/);
  await assert.rejects(network.setup({ ...sandbox, name: "" }), /^TypeError: Invalid name ""/);
  await assert.rejects(
    network.setup({ ...sandbox, portMappings: [{ hostPort: 70000, containerPort: 80 }] }),
    /Invalid portMappings\[0\]\.hostPort 70000: expected a port from 1 to 65535/,
  );
  await assert.rejects(
    network.setup({ ...sandbox, portMappings: [{ hostPort: 80, containerPort: 80, protocol: "ICMP" }] }),
    /Invalid portMappings\[0\]\.protocol "ICMP": expected TCP, UDP or SCTP/,
  );
  await assert.rejects(
    network.setup({ ...sandbox, portMappings: [{ hostPort: 80, containerPort: 80, hostIP: "pi" }] }),
    /Invalid portMappings\[0\]\.hostIP "pi"/,
  );
  await assert.rejects(
    network.setup({
      ...sandbox,
      portMappings: [{ hostPort: 80, containerPort: 80 }, { hostPort: 80, containerPort: 81, protocol: "TCP" }],
    }),
    /Invalid portMappings\[1\]: host port \*:80\/tcp is also used by portMappings\[0\]/,
  );
  await assert.rejects(network.setup({ ...sandbox, netnsName: "a/b" }), /Invalid netnsName "a\/b"/);
  assert.deepEqual(commands, []);
});

Deno.test("CniPodNetwork.setup() creates the namespace, then runs loopback, bridge and portmap with prevResult", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-podnet-unit-" });
  const binDir = await fakeBinDir(tmp.join("bin"));
  const { exec, commands } = fakePlugins();
  const network = new CniPodNetwork({
    nodeName: "pi-3",
    podCidr: "10.42.3.0/24",
    stateDir: tmp.join("state"),
    hostNetns: "node-pi-3",
    cniBinDir: binDir,
    exec,
  });

  const status = await network.setup({
    podUid: UID,
    namespace: "default",
    name: "web",
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "TCP" }],
  });

  assert.deepEqual(status, {
    ip: "10.42.3.77",
    prefixLength: 24,
    gateway: "10.42.3.1",
    mac: "16:7e:5f:d9:36:ea",
    interface: "eth0",
    netnsName: "skiff-pi-3-0c5d8e5f",
    netnsPath: "/run/netns/skiff-pi-3-0c5d8e5f",
  });
  // First the bridge, its gateway address and its MAC pinned (once per instance), then the sandbox.
  const netnsAdd = commands.findIndex((c) => c.cmd[1] === "netns");
  assert.deepEqual(commands.slice(0, netnsAdd).map((c) => c.cmd.join(" ")), [
    "ip link show dev skiff0",
    "ip addr replace 10.42.3.1/24 dev skiff0",
    "ip -j link show dev skiff0",
    "ip link set dev skiff0 address f2:00:00:00:00:01",
    "ip link set dev skiff0 up",
  ]);
  assert.deepEqual(commands[netnsAdd], { cmd: ["ip", "netns", "add", "skiff-pi-3-0c5d8e5f"], options: {} });
  const plugins = commands.slice(netnsAdd + 1);
  assert.deepEqual(plugins.map((c) => [basename(c.cmd[0]!), c.options.env?.CNI_IFNAME]), [
    ["loopback", "lo"],
    ["bridge", "eth0"],
    ["portmap", "eth0"],
  ]);
  for (const { options } of plugins) {
    assert.equal(options.netns, "node-pi-3");
    assert.deepEqual({ ...options.env, CNI_IFNAME: undefined }, {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: UID,
      CNI_NETNS: "/run/netns/skiff-pi-3-0c5d8e5f",
      CNI_IFNAME: undefined,
      CNI_PATH: binDir,
    });
  }
  const [, bridge, portmap] = plugins.map((c) => JSON.parse(c.options.stdin!));
  assert.deepEqual(bridge, {
    cniVersion: "1.0.0",
    name: "skiff",
    type: "bridge",
    bridge: "skiff0",
    isGateway: true,
    ipMasq: true,
    hairpinMode: true,
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: "10.42.3.0/24", gateway: "10.42.3.1" }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: tmp.join("state", "ipam"),
    },
  });
  assert.deepEqual(portmap, {
    cniVersion: "1.0.0",
    name: "skiff",
    type: "portmap",
    capabilities: { portMappings: true },
    snat: true,
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
    prevResult: BRIDGE_RESULT,
  });
  assert.deepEqual(await network.list(), [{
    podUid: UID,
    namespace: "default",
    name: "web",
    netnsName: "skiff-pi-3-0c5d8e5f",
    netnsPath: "/run/netns/skiff-pi-3-0c5d8e5f",
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    ready: true,
    ip: "10.42.3.77",
  }]);

  commands.length = 0;
  await network.teardown({ podUid: UID });
  assert.deepEqual(
    commands.map((c) => [basename(c.cmd[0]!), c.options.env?.CNI_COMMAND ?? c.cmd.slice(1).join(" ")]),
    [["portmap", "DEL"], ["bridge", "DEL"], ["iptables", "-w -t nat -S"]],
    "DEL runs in reverse order, then masquerade leftovers are looked for; loopback is skipped without a namespace",
  );
  assert.equal(commands[0]!.options.env?.CNI_NETNS, "", "the namespace is gone, so CNI_NETNS is empty");
  assert.deepEqual(prevResultOf(commands[1]!.options.stdin!), BRIDGE_RESULT, "DEL gets the cached result");
  assert.deepEqual(await network.list(), []);
});

Deno.test("CniPodNetwork.setup() with a failing plugin throws CniError with its message and undoes the rest", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-podnet-unit-" });
  const { exec, commands } = fakePlugins({
    plugin: "bridge",
    command: "ADD",
    stdout: JSON.stringify({ code: 11, msg: "failed to allocate for range 0", details: "no IP addresses available" }),
  });
  const network = new CniPodNetwork({
    nodeName: "pi-3",
    podCidr: "10.42.3.0/24",
    stateDir: tmp.join("state"),
    cniBinDir: await fakeBinDir(tmp.join("bin")),
    exec,
  });
  await assert.rejects(network.setup({ podUid: UID, namespace: "default", name: "web" }), (error: unknown) => {
    assert.ok(error instanceof CniError);
    assert.equal(error.cniCode, 11);
    assert.equal(
      error.message,
      'CNI plugin "bridge" failed on ADD for pod "default/web": failed to allocate for range 0: no IP addresses available',
    );
    return true;
  });
  const after = commands.slice(commands.findIndex((c) => c.cmd[1] === "netns") + 3).map((c) =>
    c.options.env ? `${basename(c.cmd[0]!)} ${c.options.env.CNI_COMMAND}` : c.cmd.join(" ")
  );
  assert.deepEqual(after, ["bridge DEL", "iptables -w -t nat -S", "ip netns del skiff-pi-3-0c5d8e5f"]);
  assert.deepEqual(await network.list(), []);
});

Deno.test("CniPodNetwork.check() of a sandbox never set up throws NotFoundError", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-podnet-unit-" });
  const network = new CniPodNetwork({ nodeName: "pi-3", podCidr: "10.42.3.0/24", stateDir: tmp.path });
  await assert.rejects(network.check({ podUid: UID }), NotFoundError);
});

const needs = requireTools(
  ["ip", "busybox", "timeout", "iptables", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"],
  { root: true },
);

Deno.test({
  name: "CniPodNetwork with the real CNI plugins in a lab node",
  ...needs,
  fn: async (t) => {
    await using tmp = await createTempDir({ prefix: "skiff-podnet-" });
    await using lab = await createLab({ nodes: 2 });
    const node = lab.nodes[0]!;
    const prefix = `skiff-${node.netns}-`;
    const children: Deno.ChildProcess[] = [];
    const options: CniPodNetworkOptions = {
      nodeName: node.netns,
      podCidr: "10.42.3.0/24",
      stateDir: tmp.join("state"),
      hostNetns: node.netns,
    };
    const network = new CniPodNetwork(options);
    const pod = (name: string) => ({ podUid: crypto.randomUUID(), namespace: "default", name });
    const allocations = async () => {
      const found: string[] = [];
      try {
        for await (const entry of Deno.readDir(tmp.join("state", "ipam", "skiff"))) {
          if (isIPv4(entry.name)) found.push(entry.name);
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return found.sort();
    };
    const bridgePorts = async () =>
      (JSON.parse((await lab.exec(node, ["ip", "-j", "link", "show", "master", "skiff0"])).stdout) as unknown[])
        .length;

    try {
      const web = pod("web");
      let webIp = "";

      await t.step("setup() gives the pod an address in the CIDR that answers ping from the node", async () => {
        const status = await network.setup(web);
        webIp = status.ip;
        assert.match(status.ip, /^10\.42\.3\.\d+$/);
        assert.equal(status.prefixLength, 24);
        assert.equal(status.gateway, "10.42.3.1");
        assert.equal(status.netnsName, network.netnsNameFor(web.podUid));
        assert.equal(status.netnsPath, `/run/netns/${status.netnsName}`);
        assert.ok((await netnsNames()).includes(status.netnsName));
        assert.equal(await pings(node.netns, status.ip), true);
        assert.equal(await pings(status.netnsName, "127.0.0.1"), true, "lo is up");
        assert.deepEqual(await allocations(), [status.ip]);
      });

      await t.step("setup() again returns the existing address and allocates nothing more", async () => {
        const again = await network.setup(web);
        assert.equal(again.ip, webIp);
        assert.deepEqual(await allocations(), [webIp]);
        assert.equal(await bridgePorts(), 1);
      });

      const db = pod("db");
      await t.step("two pods on one node reach each other", async () => {
        const status = await network.setup(db);
        assert.notEqual(status.ip, webIp);
        assert.equal(await pings(status.netnsName, webIp), true);
        assert.equal(await pings(network.netnsNameFor(web.podUid), status.ip), true);
      });

      await t.step("check() passes on a wired sandbox and fails on a broken one, which setup() repairs", async () => {
        await network.check(web);
        const netnsName = network.netnsNameFor(web.podUid);
        await run(["ip", "-n", netnsName, "addr", "flush", "dev", "eth0"]);
        await assert.rejects(network.check(web), CniError);
        const repaired = await network.setup(web);
        assert.equal(repaired.netnsName, netnsName, "containers keep their namespace");
        webIp = repaired.ip;
        assert.equal(await pings(node.netns, repaired.ip), true);
        await network.check(web);
        assert.equal((await allocations()).length, 2);
      });

      await t.step("the bridge keeps its MAC address as pods come and go (CHECK compares it)", async () => {
        const mac = async () =>
          ((JSON.parse((await lab.exec(node, ["ip", "-j", "link", "show", "dev", "skiff0"])).stdout) as {
            address: string;
          }[])[0]!).address;
        // 3 is NET_ADDR_SET: the kernel no longer derives the bridge's address from its ports.
        const assignType = await lab.exec(node, ["cat", "/sys/class/net/skiff0/addr_assign_type"]);
        assert.equal(assignType.stdout.trim(), "3");
        const before = await mac();
        const extra = pod("extra");
        await network.setup(extra);
        await network.teardown(extra);
        assert.equal(await mac(), before);
        await network.check(web);
        await network.check(db);
      });

      await t.step("teardown() removes the namespace, the address and the veth, and is idempotent", async () => {
        const netnsName = network.netnsNameFor(db.podUid);
        assert.equal(await bridgePorts(), 2);
        await network.teardown(db);
        assert.ok(!(await netnsNames()).includes(netnsName));
        assert.deepEqual(await allocations(), [webIp]);
        assert.equal(await bridgePorts(), 1);
        await network.teardown(db);
        await network.teardown({ podUid: crypto.randomUUID() });
        assert.deepEqual((await network.list()).map((s) => s.podUid), [web.podUid]);
      });

      await t.step("a new instance on the same state directory tears down what the old one set up", async () => {
        const restarted = new CniPodNetwork(options);
        assert.deepEqual((await restarted.list()).map((s) => s.ip), [webIp]);
        await restarted.teardown(web);
        assert.ok(!(await netnsNames()).includes(network.netnsNameFor(web.podUid)));
        assert.deepEqual(await allocations(), []);
        assert.equal(await bridgePorts(), 0);
        assert.deepEqual(await restarted.list(), []);
      });

      await t.step("gc() tears down dead sandboxes and removes namespaces and addresses nobody claims", async () => {
        const live = pod("live");
        const dead = pod("dead");
        const lost = pod("lost");
        const [liveStatus, deadStatus, lostStatus] = await Promise.all([
          network.setup(live),
          network.setup(dead),
          network.setup(lost),
        ]);
        assert.equal(new Set([liveStatus.ip, deadStatus.ip, lostStatus.ip]).size, 3, "set up at once, distinct");
        await Deno.remove(tmp.join("state", "sandboxes", `${lost.podUid}.json`));
        const stray = `${prefix}deadbeef`;
        await run(["ip", "netns", "add", stray]);
        await Deno.writeTextFile(tmp.join("state", "sandboxes", `${live.podUid}.json.tmp-1a2b3c4d`), "{");

        const report = await network.gc([live.podUid]);

        assert.deepEqual(report.failures, []);
        assert.deepEqual(report.sandboxes, [dead.podUid]);
        assert.deepEqual(report.namespaces.sort(), [lostStatus.netnsName, stray].sort());
        assert.deepEqual(report.addresses, [lostStatus.ip]);
        assert.deepEqual(report.chains, [bridgeMasqueradeChain("skiff", lost.podUid)]);
        const nat = (await lab.exec(node, ["iptables", "-t", "nat", "-S"])).stdout;
        assert.deepEqual(nat.match(/^-N CNI-[0-9a-f]{24}$/gm), [`-N ${bridgeMasqueradeChain("skiff", live.podUid)}`]);
        const names = await netnsNames();
        assert.ok(names.includes(liveStatus.netnsName));
        for (const gone of [deadStatus.netnsName, lostStatus.netnsName, stray]) assert.ok(!names.includes(gone));
        assert.deepEqual(await allocations(), [liveStatus.ip]);
        assert.equal(await bridgePorts(), 1);
        assert.deepEqual([...Deno.readDirSync(tmp.join("state", "sandboxes"))].map((e) => e.name), [
          `${live.podUid}.json`,
        ]);
        assert.equal(await pings(node.netns, liveStatus.ip), true);
        assert.deepEqual((await network.gc([live.podUid])).namespaces, []);
        await network.teardown(live);
      });

      await t.step(
        "gc() keeps a sandbox and a namespace that processes still run in, whatever it is told",
        async () => {
          const busy = pod("busy");
          const stray = `${prefix}0ddba11`;
          const status = await network.setup(busy);
          await run(["ip", "netns", "add", stray]);
          const inodes = async () => [
            (await Deno.stat(status.netnsPath)).ino,
            (await Deno.stat(`/run/netns/${stray}`)).ino,
          ];
          const before = await inodes();
          const sleepers = [status.netnsName, stray].map((netns) =>
            new Deno.Command("ip", { args: ["netns", "exec", netns, "sleep", "600"], stdout: "null", stderr: "null" })
              .spawn()
          );
          children.push(...sleepers);
          // `ip netns exec` enters the namespace before running sleep: wait until both are in.
          for (let attempt = 0;; attempt++) {
            const pids = (await run(["ip", "netns", "pids", stray], { check: false })).stdout.trim();
            const pods = (await run(["ip", "netns", "pids", status.netnsName], { check: false })).stdout.trim();
            if (pids !== "" && pods !== "") break;
            if (attempt >= 600) throw new Error("The sleepers did not enter their network namespaces within 30 s");
            await new Promise((resolve) => setTimeout(resolve, 50));
          }

          const report = await network.gc([]);

          assert.deepEqual(report.failures, []);
          assert.deepEqual(report.sandboxes, []);
          assert.deepEqual(report.namespaces, []);
          assert.deepEqual(report.addresses, []);
          assert.deepEqual(report.inUse.sort(), [status.netnsName, stray].sort());
          assert.deepEqual(await inodes(), before, "the very same namespaces");
          assert.deepEqual((await network.list()).map((s) => s.ip), [status.ip]);
          assert.deepEqual(await allocations(), [status.ip]);
          assert.equal(await pings(node.netns, status.ip), true);
          assert.equal((await network.setup(busy)).ip, status.ip, "the sandbox is still set up");

          for (const child of sleepers) {
            child.kill("SIGKILL");
            await child.status;
          }
          const after = await network.gc([]);
          assert.deepEqual(after.sandboxes, [busy.podUid]);
          assert.deepEqual(after.namespaces, [stray]);
          assert.deepEqual(after.inUse, []);
          assert.deepEqual(await allocations(), []);
        },
      );

      await t.step("portmap makes a hostPort reach the pod from another node", async () => {
        const server = pod("server");
        const status = await network.setup({
          ...server,
          portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: "TCP" }],
        });
        const root = tmp.join("www");
        await Deno.mkdir(root);
        await Deno.writeTextFile(join(root, "index.html"), "hello from the pod\n");
        children.push(
          new Deno.Command("ip", {
            args: ["netns", "exec", status.netnsName, "busybox", "httpd", "-f", "-p", "8080", "-h", root],
            stdout: "null",
            stderr: "null",
          }).spawn(),
        );
        const url = `http://${node.address}:18080/index.html`;
        let body = "";
        for (let attempt = 0; attempt < 50 && body === ""; attempt++) {
          const got = await lab.exec(1, ["timeout", "3", "busybox", "wget", "-q", "-O", "-", url], { check: false });
          body = got.stdout;
          if (body === "") await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(body, "hello from the pod\n");
        await network.check(server);
        await network.teardown(server);
        const after = await lab.exec(1, ["timeout", "3", "busybox", "wget", "-q", "-O", "-", url], { check: false });
        assert.notEqual(after.code, 0);
      });
    } finally {
      for (const child of children) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
        await child.status;
      }
      await network.gc([]).catch(() => {});
      await deleteNetnsWithPrefix(prefix);
    }
  },
});
