import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { openSqliteStore } from "./sqlite_store.ts";

const ROUNDS = 25;
const MIN_ACKS = 10;

/**
 * Runs the writer child until `ms` after it has acknowledged `MIN_ACKS`
 * writes (so every round proves something however slow the disk), then
 * SIGKILLs it; returns its acknowledged lines.
 */
async function runAndKill(path: string, seed: number, ms: number): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_crash_writer.ts", import.meta.url).pathname, path, String(seed)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  let ready = false;
  let killed = false;
  let acks = 0;
  const stderr = new Response(child.stderr).text();
  // A writer that stalls is killed anyway; the round then fails on its too few acknowledgements.
  const stall = setTimeout(() => child.kill("SIGKILL"), 60_000);
  for await (const chunk of child.stdout) {
    buffer += decoder.decode(chunk, { stream: true });
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    for (const line of parts) {
      if (line === "ready") ready = true;
      else if (line) lines.push(line);
      if (line.startsWith("ack ")) acks++;
      if (ready && acks >= MIN_ACKS && !killed) {
        killed = true;
        setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // It ended first: the status check below says how.
          }
        }, ms);
      }
    }
  }
  clearTimeout(stall);
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", `the writer died on its own: ${await stderr}`);
  return lines;
}

Deno.test("SqliteStore killed with SIGKILL at random points loses no acknowledged write", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-crash-" });
  const path = join(dir, "state.db");
  const acked = new Map<string, { revision: number; value: string }>();
  let totalAcks = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runAndKill(path, round, Math.floor(Math.random() * 400));
      for (const line of lines) {
        const [kind, key, rev, value] = line.split(" ");
        if (kind !== "ack") continue;
        totalAcks++;
        const revision = Number(rev);
        const seen = acked.get(key!);
        if (!seen || seen.revision < revision) acked.set(key!, { revision, value: value! });
      }

      const store = openSqliteStore({ path, compaction: false });
      try {
        assert.deepEqual(await store.checkIntegrity(), [], `round ${round}: integrity`);
        for (const [key, want] of acked) {
          const got = await store.get(key);
          assert.ok(got, `round ${round}: acknowledged key ${key} is missing`);
          assert.ok(got.modRevision >= want.revision, `round ${round}: ${key} went back in time`);
          if (got.modRevision === want.revision) assert.equal(got.value, want.value);
        }
      } finally {
        await store.close();
      }
      const db = new DatabaseSync(path);
      const compacted = (db.prepare("SELECT value FROM meta WHERE name = 'compact_revision'").get() as {
        value: number;
      }).value;
      const { n, lo, hi } = db.prepare(
        "SELECT count(*) AS n, min(revision) AS lo, max(revision) AS hi FROM log WHERE revision > ?",
      ).get(compacted) as { n: number; lo: number; hi: number };
      db.close();
      if (n > 0) {
        assert.equal(lo, compacted + 1, `round ${round}: the first revision after compaction is missing`);
        assert.equal(n, hi - lo + 1, `round ${round}: revisions ${lo}..${hi} have gaps`);
      }
    }
    assert.ok(totalAcks >= ROUNDS * MIN_ACKS, `too few writes were acknowledged to prove anything: ${totalAcks}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
