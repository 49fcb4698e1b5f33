import assert from "node:assert/strict";
import { join } from "node:path";
import { createTempDir } from "../../test/support/mod.ts";
import { run } from "../_exec.ts";
import { CriLogWriter, FifoLogPumps } from "./_log_writer.ts";
import {
  entryTimeMs,
  followContainerLog,
  formatCriLine,
  logFiles,
  logTimestamp,
  MAX_LOG_LINE_BYTES,
  parseCriLine,
  readContainerLog,
} from "./container_log.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const T0 = Date.parse("2024-05-01T10:00:00.000Z");

Deno.test("parseCriLine() and formatCriLine() read and write the CRI log format", () => {
  const entry = { time: "2024-05-01T10:00:00.123456789Z", stream: "stderr" as const, partial: true, text: "a b " };
  assert.equal(formatCriLine(entry), "2024-05-01T10:00:00.123456789Z stderr P a b \n");
  assert.deepEqual(parseCriLine(formatCriLine(entry).trimEnd() + " "), entry);
  assert.deepEqual(parseCriLine("2024-05-01T10:00:00Z stdout F "), {
    time: "2024-05-01T10:00:00Z",
    stream: "stdout",
    partial: false,
    text: "",
  });
  assert.equal(parseCriLine("not a log line"), undefined);
});

Deno.test("logTimestamp() gives RFC 3339 with nanoseconds", () => {
  assert.equal(logTimestamp(T0 + 1.5), "2024-05-01T10:00:00.001500000Z");
  assert.match(logTimestamp(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.equal(entryTimeMs("2024-05-01T10:00:00.123456789Z"), T0 + 123);
  assert.equal(entryTimeMs("2024-05-01T10:00:00Z"), T0);
});

Deno.test("CriLogWriter writes lines as F entries and an unfinished line at once as a P entry", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("c.log");
  const writer = new CriLogWriter(path);
  writer.write("stdout", bytes("one\ntw"), T0);
  writer.write("stdout", bytes("o\n\nthree"), T0 + 1);
  writer.write("stdout", bytes("\u00e9"), T0 + 2);
  writer.close();
  const lines = (await Deno.readTextFile(path)).trimEnd().split("\n").map((l) => l.replace(/^\S+ /, ""));
  assert.deepEqual(lines, ["stdout F one", "stdout P tw", "stdout F o", "stdout F ", "stdout P three", "stdout P é"]);
  assert.equal(await readContainerLog(path), "one\ntwo\n\nthreeé");
});

Deno.test("CriLogWriter keeps a multi-byte character split across reads whole", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("c.log");
  const writer = new CriLogWriter(path);
  const euro = bytes("\u20ac\n");
  writer.write("stdout", euro.subarray(0, 1));
  writer.write("stdout", euro.subarray(1));
  writer.close();
  assert.equal(await readContainerLog(path), "\u20ac\n");
});

Deno.test("CriLogWriter splits a line longer than MAX_LOG_LINE_BYTES into fragments", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("c.log");
  const writer = new CriLogWriter(path);
  const long = "x".repeat(MAX_LOG_LINE_BYTES * 2 + 10);
  writer.write("stdout", bytes(`${long}\n`));
  writer.close();
  const entries = (await Deno.readTextFile(path)).trimEnd().split("\n").map((l) => parseCriLine(l)!);
  assert.deepEqual(entries.map((e) => [e.partial, e.text.length]), [
    [true, MAX_LOG_LINE_BYTES],
    [true, MAX_LOG_LINE_BYTES],
    [false, 10],
  ]);
  assert.equal(await readContainerLog(path), `${long}\n`);
});

Deno.test("CriLogWriter rotates at its size bound and keeps maxFiles files", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("c.log");
  const writer = new CriLogWriter(path, { maxBytes: 1024, maxFiles: 3 });
  for (let i = 0; i < 100; i++) writer.write("stdout", bytes(`line ${i}\n`), T0 + i);
  writer.close();
  assert.deepEqual(await logFiles(path), [`${path}.2`, `${path}.1`, path]);
  for (const file of await logFiles(path)) assert.ok((await Deno.stat(file)).size <= 1024);
  const text = await readContainerLog(path);
  const numbers = text.trimEnd().split("\n").map((l) => Number(l.split(" ")[1]));
  assert.equal(numbers.at(-1), 99);
  assert.deepEqual(numbers, numbers.map((_, i) => numbers[0]! + i), "contiguous across files");
  assert.ok(numbers[0]! > 0, "the oldest lines were dropped");
});

Deno.test("readContainerLog() takes the tail, a time window, a byte limit and timestamps across files", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("c.log");
  const writer = new CriLogWriter(path, { maxBytes: 1024, maxFiles: 10 });
  for (let i = 0; i < 60; i++) writer.write("stdout", bytes(`line ${i}\n`), T0 + i * 1000);
  writer.close();
  assert.ok((await logFiles(path)).length > 2);
  assert.equal(await readContainerLog(path, { tailLines: 2 }), "line 58\nline 59\n");
  assert.equal(await readContainerLog(path, { tailLines: 0 }), "");
  assert.equal(await readContainerLog(path, { sinceMs: T0 + 57_500 }), "line 58\nline 59\n");
  assert.equal(await readContainerLog(path, { limitBytes: 5 }), "e 59\n");
  assert.match(
    await readContainerLog(path, { tailLines: 1, timestamps: true }),
    /^2024-05-01T10:00:59\.\d{9}Z line 59\n$/,
  );
  assert.equal(await readContainerLog(tmp.join("missing.log")), "");
});

Deno.test("readContainerLog() joins a line whose fragments span a rotation", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("c.log");
  const head = `${"2024-05-01T10:00:00.000000000Z"} stdout P start-`;
  await Deno.writeTextFile(`${path}.1`, `2024-05-01T10:00:00.000000000Z stdout F before\n${head}\n`);
  await Deno.writeTextFile(path, "2024-05-01T10:00:01.000000000Z stdout F end\n");
  assert.equal(await readContainerLog(path), "before\nstart-end\n");
  assert.equal(
    await readContainerLog(path, { tailLines: 1, timestamps: true }),
    "2024-05-01T10:00:00.000000000Z start-end\n",
  );
});

Deno.test("followContainerLog() yields the tail, then new output across rotation, until told to stop", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("c.log");
  const writer = new CriLogWriter(path, { maxBytes: 1024, maxFiles: 5 });
  for (let i = 0; i < 5; i++) writer.write("stdout", bytes(`old ${i}\n`));
  let done = false;
  const received: string[] = [];
  const follow = (async () => {
    for await (const chunk of followContainerLog(path, { tailLines: 2, pollIntervalMs: 10, stopWhen: () => done })) {
      received.push(chunk);
    }
  })();
  while (received.length === 0) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < 80; i++) {
    writer.write("stdout", bytes(`new ${i}\n`));
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 15));
  }
  writer.write("stdout", bytes("no newline"));
  writer.close();
  assert.ok((await logFiles(path)).length >= 3, "it rotated while followed");
  done = true;
  await follow;
  const expected = ["old 3", "old 4", ...Array.from({ length: 80 }, (_, i) => `new ${i}`)].join("\n") + "\nno newline";
  assert.equal(received.join(""), expected);
});

Deno.test("followContainerLog() prints each line's timestamp once, even when it comes in fragments", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("c.log");
  await Deno.writeTextFile(
    path,
    "2024-05-01T10:00:00.000000001Z stdout P a\n2024-05-01T10:00:00.000000002Z stdout F b\n",
  );
  const chunks: string[] = [];
  for await (const chunk of followContainerLog(path, { timestamps: true, pollIntervalMs: 10, stopWhen: () => true })) {
    chunks.push(chunk);
  }
  assert.equal(chunks.join(""), "2024-05-01T10:00:00.000000001Z ab\n");
});

Deno.test("followContainerLog() waits for a log that does not exist yet and ends on abort", async () => {
  await using tmp = await createTempDir();
  const path = tmp.join("later.log");
  const controller = new AbortController();
  const chunks: string[] = [];
  const follow = (async () => {
    for await (const c of followContainerLog(path, { pollIntervalMs: 10, signal: controller.signal })) chunks.push(c);
  })();
  await new Promise((r) => setTimeout(r, 50));
  const writer = new CriLogWriter(path);
  writer.write("stdout", bytes("hello\n"));
  writer.close();
  const deadline = Date.now() + 5000;
  while (chunks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  controller.abort();
  await follow;
  assert.deepEqual(chunks, ["hello\n"]);
});

Deno.test("FifoLogPumps copies what is written into a FIFO to the log, and a new one reads what waited in it", async () => {
  await using tmp = await createTempDir();
  const fifo = tmp.join("fifo", "c1");
  const logPath = join(tmp.path, "logs", "c1.log");
  const waitFor = async (text: string) => {
    const deadline = Date.now() + 5000;
    while (!(await readContainerLog(logPath)).includes(text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const pumps = new FifoLogPumps();
  await pumps.open("c1", fifo, logPath);
  const made = await Deno.lstat(fifo);
  assert.equal(made.isFifo, true);
  assert.equal(made.mode! & 0o777, 0o600);
  await run(["sh", "-c", `printf 'one\\ntwo\\n' > ${fifo}`]);
  await waitFor("two");
  await pumps.close();
  // A writer (the shim) keeps writing while no agent reads: it waits in the FIFO.
  const shim = new Deno.Command("sh", { args: ["-c", `exec 3<>${fifo}; printf 'three\\n' >&3; sleep 1`] }).output();
  await new Promise((r) => setTimeout(r, 200));
  const again = new FifoLogPumps();
  await again.open("c1", fifo, logPath);
  await waitFor("three");
  await shim;
  again.finish("c1");
  assert.equal(await readContainerLog(logPath), "one\ntwo\nthree\n");
  assert.deepEqual(again.ids, []);
  await again.close();
  await assert.rejects(Deno.lstat(fifo), Deno.errors.NotFound);
});
