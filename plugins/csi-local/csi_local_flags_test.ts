import assert from "node:assert/strict";
import { CommanderError } from "commander";
import { parseCsiLocalFlags } from "./csi_local_flags.ts";

const quiet = { write: () => {}, hostname: () => "pi-3", env: () => undefined };

Deno.test("parseCsiLocalFlags() reads every flag", () => {
  const options = parseCsiLocalFlags([
    "--endpoint",
    "unix:///run/csi.sock",
    "--data-dir",
    "/var/lib/skiff/csi-local",
    "--node-id",
    "node-a",
    "--enforce-size",
    "--max-volumes",
    "12",
  ], quiet);
  assert.deepEqual(options, {
    endpoint: "unix:///run/csi.sock",
    dataDir: "/var/lib/skiff/csi-local",
    nodeId: "node-a",
    enforceSize: true,
    maxVolumes: 12,
  });
});

Deno.test("parseCsiLocalFlags() takes the endpoint from CSI_ENDPOINT and the node id from the host name", () => {
  const options = parseCsiLocalFlags(["--data-dir", "/d"], {
    ...quiet,
    env: (name) => name === "CSI_ENDPOINT" ? "unix:///env.sock" : undefined,
  });
  assert.deepEqual(options, {
    endpoint: "unix:///env.sock",
    dataDir: "/d",
    nodeId: "pi-3",
    enforceSize: false,
  });
});

Deno.test("parseCsiLocalFlags() without an endpoint, a data dir or with a bad --max-volumes fails naming the problem", () => {
  const lines: string[] = [];
  const write = (text: string) => lines.push(text);
  assert.throws(
    () => parseCsiLocalFlags(["--data-dir", "/d"], { ...quiet, write }),
    CommanderError,
  );
  assert.match(lines.join(""), /no endpoint/);
  assert.throws(
    () => parseCsiLocalFlags(["--endpoint", "unix:///x.sock"], quiet),
    (error: unknown) => error instanceof CommanderError && /--data-dir/.test(error.message),
  );
  assert.throws(
    () =>
      parseCsiLocalFlags([
        "--endpoint",
        "unix:///x.sock",
        "--data-dir",
        "/d",
        "--max-volumes",
        "0",
      ], quiet),
    (error: unknown) => error instanceof CommanderError && /positive integer/.test(error.message),
  );
});
