import assert from "node:assert/strict";
import { createTempDir } from "../../test/support/mod.ts";
import { closeListenerOnExec, listeningDescriptors, listeningInodes } from "./_close_on_exec.ts";
import { runCsiLocal } from "./csi_local.ts";

const TABLE = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 1816370 /tmp/a/csi.sock
0000000000000000: 00000003 00000000 00000000 0001 03 1816371 /tmp/a/csi.sock
0000000000000000: 00000002 00000000 00010000 0001 01 1816372 /tmp/b/csi.sock
0000000000000000: 00000002 00000000 00010000 0001 01 1816373 /tmp/with space.sock
0000000000000000: 00000003 00000000 00000000 0001 03 1816374
`;

Deno.test("listeningInodes() finds the listening sockets at a path, not its connections", () => {
  assert.deepEqual([...listeningInodes(TABLE, "/tmp/a/csi.sock")], ["1816370"]);
  assert.deepEqual([...listeningInodes(TABLE, "/tmp/with space.sock")], ["1816373"]);
  assert.deepEqual([...listeningInodes(TABLE, "/tmp/none.sock")], []);
});

Deno.test("closeListenerOnExec() with no socket at the path sets nothing", () => {
  assert.deepEqual(closeListenerOnExec("/nonexistent/csi.sock"), []);
});

Deno.test("runCsiLocal() leaves its listening socket out of the processes it spawns", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-csi-fd-" });
  const socketPath = tmp.join("csi.sock");
  const lines: string[] = [];
  const plugin = await runCsiLocal({
    endpoint: `unix://${socketPath}`,
    dataDir: tmp.join("data"),
    nodeId: "fd-node",
    log: (line) => lines.push(line),
  });
  try {
    const fds = listeningDescriptors(socketPath);
    assert.equal(fds.length, 1);
    const socket = Deno.readLinkSync(`/proc/self/fd/${fds[0]}`);
    const child = new Deno.Command("sh", {
      args: ["-c", "ls -l /proc/$$/fd"],
      stdout: "piped",
      stderr: "piped",
    });
    const { stdout } = await child.output();
    assert.doesNotMatch(new TextDecoder().decode(stdout), new RegExp(socket.replace(/[[\]]/g, "\\$&")));
    assert.deepEqual(lines.filter((line) => /close-on-exec|child processes/.test(line)), []);
  } finally {
    await plugin.stop();
  }
});
