/**
 * The API benchmark's server process: starts a control plane on loopback
 * with a free port and prints one JSON line `{ url, kubeconfig }` on stdout
 * once it serves. SIGTERM or SIGINT shut it down gracefully (so a
 * `--cpu-prof` profile is written) and end the process.
 *
 * `deno run -A bench/_api_server.ts <data-dir>`
 *
 * @module
 */

import { startControlPlane } from "../control-plane/mod.ts";

const dataDir = Deno.args[0];
if (!dataDir) {
  console.error("Missing data dir: usage: deno run -A bench/_api_server.ts <data-dir>");
  Deno.exit(2);
}
const controlPlane = await startControlPlane({ dataDir, port: 0, bind: "127.0.0.1", log: () => {} });
console.log(JSON.stringify({ url: controlPlane.url, kubeconfig: controlPlane.kubeconfigPath }));

const stop = () => {
  controlPlane.stop().finally(() => Deno.exit(0));
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
