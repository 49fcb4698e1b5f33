import assert from "node:assert/strict";
import { runCsiLocal } from "@skiff/csi-local";
import { createTempDir, eventually } from "../../test/support/mod.ts";
import { withParentDeathSignal } from "../_exec.ts";
import { FifoLogPumps } from "./_log_writer.ts";
import { spawn } from "./_spawn.ts";

/**
 * Descriptors this test process was handed open across exec by whoever
 * started it (a shell, a CI runner): they are its launcher's to pass on,
 * not Skiff's, so children may hold them too.
 */
const inherited = new Set(
  [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).filter((fd) => fd > 2 && !closeOnExec(fd)),
);

function closeOnExec(fd: number): boolean {
  try {
    const flags = /^flags:\s+([0-7]+)$/m.exec(Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`))?.[1];
    return flags !== undefined && (parseInt(flags, 8) & 0o2000000) !== 0;
  } catch {
    // The directory listing's own descriptor, closed since.
    return true;
  }
}

/** The descriptors `pid` holds, each with what it points to. */
function descriptorsOf(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(Number(entry.name), Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`));
    } catch {
      // Closed since the listing.
    }
  }
  return out;
}

Deno.test({
  name: "a process the agent spawns after csi-local and the log FIFOs start holds only its standard streams",
  sanitizeResources: false,
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-fds-" });
    const socketPath = tmp.join("csi.sock");
    const plugin = await runCsiLocal({
      endpoint: `unix://${socketPath}`,
      dataDir: tmp.join("csi"),
      nodeId: "fd-node",
      log: () => {},
    });
    const pumps = new FifoLogPumps();
    try {
      await pumps.open("c1", tmp.join("fifo", "c1"), tmp.join("logs", "c1.log"));
      await pumps.open("c2", tmp.join("fifo", "c2"), tmp.join("logs", "c2.log"));
      const ours = [...descriptorsOf(Deno.pid).values()];
      const socketInode = Deno.readTextFileSync("/proc/net/unix").split("\n")
        .find((line) => line.trim().endsWith(` ${socketPath}`))?.trim().split(/\s+/)[6];
      assert.ok(socketInode !== undefined, "csi-local listens on its socket");
      assert.ok(ours.includes(`socket:[${socketInode}]`), "this process holds the csi-local socket");
      assert.ok(ours.some((target) => target.endsWith("/fifo/c1")), "this process holds the FIFO of c1");

      // As the agent starts `ctr events`: through spawn, under setpriv when it is there.
      for (const cmd of [["sleep", "60"], withParentDeathSignal(["sleep", "60"])]) {
        const child = spawn(cmd);
        try {
          await eventually(`"${cmd.join(" ")}" to exec sleep`, () => {
            return Deno.readTextFileSync(`/proc/${child.pid}/comm`).trim() === "sleep";
          }, { timeoutMs: 30_000 });
          // Just after exec, sleep may still hold a file of its own start-up (its locale's /etc/locale.alias);
          // an inherited descriptor never goes away, so wait until only such passing ones are gone.
          let held = descriptorsOf(child.pid);
          let unexpected = [...held].filter(([fd]) => fd > 2 && !inherited.has(fd));
          for (let waited = 0; unexpected.length > 0 && waited < 5_000; waited += 50) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            held = descriptorsOf(child.pid);
            unexpected = [...held].filter(([fd]) => fd > 2 && !inherited.has(fd));
          }
          assert.deepEqual(unexpected, [], `"${cmd.join(" ")}" inherited descriptors of the agent`);
          assert.deepEqual([0, 1, 2].filter((fd) => held.has(fd)), [0, 1, 2]);
        } finally {
          child.kill("SIGKILL");
          await child.status;
          for await (const _ of child.lines);
        }
      }
    } finally {
      await pumps.close();
      await plugin.stop();
    }
  },
});
