import assert from "node:assert/strict";
import { eventually, requireTools, startContainerd } from "../../test/support/mod.ts";

const needs = requireTools(["containerd", "ctr", "runc", "setpriv"], { root: true });

/** Whether `pid` runs (a zombie waiting to be reaped does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

Deno.test({
  name: "EventStream's ctr events dies when the agent process is killed with SIGKILL",
  ...needs,
  fn: async () => {
    await using containerd = await startContainerd();
    // An agent in a process of its own: it starts the stream, prints the ctr pid once live, and runs on.
    const agent = `
      import { Ctr } from ${JSON.stringify(new URL("./_ctr.ts", import.meta.url).href)};
      import { EventStream } from ${JSON.stringify(new URL("./_events.ts", import.meta.url).href)};
      const ctr = new Ctr({ address: ${JSON.stringify(containerd.address)}, namespace: ${
      JSON.stringify(containerd.namespace)
    } });
      await ctr.createNamespace();
      const stream = new EventStream(ctr, { onEvent: () => {} });
      stream.start();
      await stream.whenReady(15_000);
      console.log(stream.pid);
      setInterval(() => {}, 60_000);
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", agent],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let ctrPid: number | undefined;
    try {
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      ctrPid = Number(text.trim());
      if (!(ctrPid > 0)) {
        child.kill("SIGKILL");
        assert.fail(`The agent process printed no ctr pid: ${JSON.stringify(text)} ${await stderr}`);
      }
      assert.equal(Deno.readTextFileSync(`/proc/${ctrPid}/comm`).trim(), "ctr");
      assert.match(Deno.readTextFileSync(`/proc/${ctrPid}/cmdline`).replaceAll("\0", " "), / events namespace==/);

      child.kill("SIGKILL");
      await child.status;
      const pid = ctrPid;
      await eventually(`ctr events (pid ${pid}) to die with the agent`, () => !alive(pid), { timeoutMs: 30_000 });
    } finally {
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch {
        // It is already gone.
      }
      await child.status;
      await stderr;
      if (ctrPid !== undefined && ctrPid > 0 && alive(ctrPid)) Deno.kill(ctrPid, "SIGKILL");
    }
  },
});
