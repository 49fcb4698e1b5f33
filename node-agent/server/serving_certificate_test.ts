import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock, type Node, type NodeAddress } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { createApi } from "../../control-plane/control_plane.ts";
import { createCertificateAuthority, issueCertificate } from "../../control-plane/pki/mod.ts";
import { newToken, TOKEN_NAMESPACE } from "../../control-plane/apiserver/mod.ts";
import { openStore } from "../../control-plane/store/mod.ts";
import * as x509 from "./_x509.ts";
import {
  loadServingCertificate,
  renewalReason,
  SERVING_RETRY_MS,
  type ServingCertificate,
  ServingCertificateKeeper,
  servingCertificatePaths,
} from "./serving_certificate.ts";

const ca = await createCertificateAuthority();
const ADDRESSES: NodeAddress[] = [{ type: "InternalIP", address: "192.168.1.23" }, {
  type: "Hostname",
  address: "pi-3",
}];

/** An API with the CA, a node token for pi-3, and a client counting its certificate requests. */
async function plane(dir: string) {
  const store = openStore(`sqlite://${join(dir, "state.db")}`, { compaction: false, durable: false });
  const api = await createApi(store, { ca });
  const admin = { name: "test", role: "admin" as const };
  const type = (kind: string) => api.types.find((t) => t.kind === kind)!;
  const token = await newToken({ role: "node", nodeName: "pi-3" });
  await api.handler.objects.create(type("Secret"), TOKEN_NAMESPACE, token.secret, { user: admin });
  let requests = 0;
  const client = new ApiClient({
    server: "https://in-process",
    token: token.token,
    transport: (req) => {
      if (new URL(req.url).pathname.endsWith("/certificate")) requests++;
      return api.handler(req);
    },
  });
  return {
    client,
    requests: () => requests,
    register: (addresses: NodeAddress[]) =>
      api.handler.objects.create(type("Node"), undefined, {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "pi-3" },
        status: { addresses },
      } as Node, { user: admin }),
    async [Symbol.asyncDispose]() {
      api.close();
      await store.close();
    },
  };
}

Deno.test("ServingCertificateKeeper gets a certificate once, keeps it in the data directory and reuses it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-serving-" });
  try {
    await using p = await plane(dir);
    await p.register(ADDRESSES);
    const dataDir = join(dir, "agent");
    const used: ServingCertificate[] = [];
    const lines: string[] = [];
    const clock = new ManualClock();
    const keeper = new ServingCertificateKeeper({
      client: p.client,
      nodeName: "pi-3",
      addresses: ADDRESSES,
      dataDir,
      clock,
      log: (line) => lines.push(line),
      onCertificate: (c) => used.push(c),
    });
    const first = await keeper.start();
    keeper.stop();
    assert.equal(p.requests(), 1);
    assert.deepEqual(used, [first]);
    assert.equal(first.caPem, ca.certPem);
    assert.match(
      lines[0]!,
      /^Serving certificate: got a new one from the API server, valid until .* because there is none yet$/,
    );
    const cert = new x509.X509Certificate(first.certPem);
    assert.deepEqual(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [
      { type: "dns", value: "pi-3" },
      { type: "ip", value: "192.168.1.23" },
    ]);
    const paths = servingCertificatePaths(dataDir);
    assert.equal(((await Deno.stat(paths.key)).mode ?? 0) & 0o777, 0o600);
    assert.deepEqual(await loadServingCertificate(dataDir), first);

    const again: ServingCertificate[] = [];
    const second = new ServingCertificateKeeper({
      client: p.client,
      nodeName: "pi-3",
      addresses: ADDRESSES,
      dataDir,
      clock,
      onCertificate: (c) => again.push(c),
    });
    assert.deepEqual(await second.start(), first);
    second.stop();
    assert.equal(p.requests(), 1, "the stored certificate is reused");
    assert.equal(clock.pending, 0, "no timer is left once stopped");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ServingCertificateKeeper keeps trying every minute until the API server gives a certificate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "skiff-serving-" });
  try {
    await using p = await plane(dir);
    const clock = new ManualClock();
    const used: ServingCertificate[] = [];
    const lines: string[] = [];
    const keeper = new ServingCertificateKeeper({
      client: p.client,
      nodeName: "pi-3",
      addresses: ADDRESSES,
      dataDir: join(dir, "agent"),
      clock,
      log: (line) => lines.push(line),
      onCertificate: (c) => used.push(c),
    });
    await assert.rejects(keeper.start(), /register the node before asking for its certificate/);
    await p.register(ADDRESSES);
    await clock.advance(SERVING_RETRY_MS);
    for (let i = 0; i < 1_000 && used.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    keeper.stop();
    assert.equal(used.length, 1, lines.join("\n"));
    assert.equal(keeper.current, used[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("renewalReason() asks for a new certificate 30 days before expiry or when an address is not in it", async () => {
  const issued = await issueCertificate(ca, {
    commonName: "pi-3",
    sans: ["pi-3", "192.168.1.23"],
    usages: "server",
    days: 365,
  });
  const cert = new x509.X509Certificate(issued.certPem);
  const serving: ServingCertificate = { ...issued, caPem: ca.certPem, notAfter: cert.notAfter };
  const now = Date.now();
  assert.equal(renewalReason(serving, ADDRESSES, now), undefined);
  const late = cert.notAfter.getTime() - 29 * 86_400_000;
  assert.equal(renewalReason(serving, ADDRESSES, late), `it expires on ${cert.notAfter.toISOString()}`);
  assert.equal(
    renewalReason(serving, [{ type: "InternalIP", address: "192.168.1.99" }], now),
    'it does not name "192.168.1.99"',
  );
});
