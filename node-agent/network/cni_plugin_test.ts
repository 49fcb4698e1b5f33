import assert from "node:assert/strict";
import { join } from "node:path";
import { createTempDir } from "../../test/support/mod.ts";
import { checkNetworkList, CniError, type CniNetworkList, type CniResult, invokeCniPlugin } from "./cni_plugin.ts";
import { recordingExec } from "./_test_support.ts";

const NETWORK = { cniVersion: "1.0.0", name: "skiff" };
const ARGS = { containerId: "pod-1", netnsPath: "/run/netns/p1", ifName: "eth0" };
const RESULT: CniResult = { cniVersion: "1.0.0", ips: [{ address: "10.42.3.5/24" }] };

async function binDir(path: string, ...plugins: string[]): Promise<string> {
  await Deno.mkdir(path, { recursive: true });
  for (const plugin of plugins) await Deno.writeTextFile(join(path, plugin), "");
  return path;
}

Deno.test("invokeCniPlugin() passes the operation in env and the configuration on stdin, and parses the result", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-cni-" });
  const dir = await binDir(tmp.path, "portmap");
  const { exec, commands } = recordingExec(() => ({ stdout: JSON.stringify(RESULT) }));
  const result = await invokeCniPlugin({ type: "portmap", capabilities: { portMappings: true } }, {
    ...ARGS,
    exec,
    binDir: dir,
    netns: "node-1",
    network: NETWORK,
    command: "ADD",
    prevResult: RESULT,
    runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080 }], bandwidth: { rate: 1 } },
  });
  assert.deepEqual(result, RESULT);
  assert.deepEqual(commands, [{
    cmd: [join(dir, "portmap")],
    options: {
      stdin: JSON.stringify({
        type: "portmap",
        capabilities: { portMappings: true },
        cniVersion: "1.0.0",
        name: "skiff",
        runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080 }] },
        prevResult: RESULT,
      }),
      env: {
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "pod-1",
        CNI_NETNS: "/run/netns/p1",
        CNI_IFNAME: "eth0",
        CNI_PATH: dir,
      },
      timeoutMs: 60_000,
      check: false,
      netns: "node-1",
    },
  }]);
});

Deno.test("invokeCniPlugin() without the plugin binary throws CniError saying how to install it", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-cni-" });
  const { exec, commands } = recordingExec();
  await assert.rejects(
    invokeCniPlugin({ type: "bridge" }, { ...ARGS, exec, binDir: tmp.path, network: NETWORK, command: "ADD" }),
    (error: unknown) => {
      assert.ok(error instanceof CniError);
      assert.equal(
        error.message,
        `CNI plugin "bridge" failed on ADD: no plugin binary at ${tmp.join("bridge")} ` +
          "(install: apt-get install -y containernetworking-plugins)",
      );
      return true;
    },
  );
  assert.deepEqual(commands, []);
});

Deno.test("invokeCniPlugin() reports a plugin's plain stderr, or a result that is not JSON, as CniError", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-cni-" });
  const dir = await binDir(tmp.path, "bridge");
  const failing = recordingExec(() => ({ code: 1, stderr: "panic: boom\n" }));
  await assert.rejects(
    invokeCniPlugin({ type: "bridge" }, {
      ...ARGS,
      exec: failing.exec,
      binDir: dir,
      network: NETWORK,
      command: "DEL",
      subject: 'pod "default/web"',
    }),
    {
      name: "CniError",
      message: 'CNI plugin "bridge" failed on DEL for pod "default/web": exited with code 1: panic: boom',
    },
  );
  const garbled = recordingExec(() => ({ stdout: "not json" }));
  await assert.rejects(
    invokeCniPlugin({ type: "bridge" }, { ...ARGS, exec: garbled.exec, binDir: dir, network: NETWORK, command: "ADD" }),
    /printed a result that is not a JSON object: not json/,
  );
});

Deno.test("checkNetworkList() forgives only portmap's IPv6 check failure on an IPv4-only sandbox", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-cni-" });
  const dir = await binDir(tmp.path, "bridge", "portmap");
  const list: CniNetworkList = { ...NETWORK, plugins: [{ type: "bridge" }, { type: "portmap" }] };
  const bug = JSON.stringify({ code: 999, msg: "could not check ipv6 dnat: chain CNI-DN-x not found" });
  const { exec, commands } = recordingExec((cmd) => cmd[0]!.endsWith("portmap") ? { code: 1, stdout: bug } : {});
  await checkNetworkList(list, { ...ARGS, exec, binDir: dir, cached: RESULT });
  assert.equal(commands.length, 2);

  const dualStack: CniResult = { ...RESULT, ips: [...RESULT.ips!, { address: "fd00::5/64" }] };
  await assert.rejects(checkNetworkList(list, { ...ARGS, exec, binDir: dir, cached: dualStack }), CniError);
  const broken = recordingExec((cmd) => cmd[0]!.endsWith("bridge") ? { code: 1, stdout: bug } : {});
  await assert.rejects(checkNetworkList(list, { ...ARGS, exec: broken.exec, binDir: dir, cached: RESULT }), CniError);
});
