import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import net from "node:net";
import { join } from "node:path";
import { type EndpointSlice, LABEL_SERVICE_NAME, type Namespace, type Service } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import { type Answer, dnsPacket } from "./_packet.ts";
import { exchangeTcp, exchangeUdp, query, type QueryResult, startUpstream } from "./_test_support.ts";
import { ClusterDns } from "./cluster_dns.ts";

const DOMAIN = "cluster.local";
const dataOf = (answers: Answer[] | undefined) => answers?.map((a) => ("data" in a ? a.data : undefined)) ?? [];

/** A control plane, an upstream name server process and a ClusterDns on 127.0.0.1, all stopped on dispose (or on a failed start). */
async function startFixture() {
  await using cleanup = new AsyncDisposableStack();
  const dir = await Deno.makeTempDir({ prefix: "skiff-dns-" });
  cleanup.defer(() => Deno.remove(dir, { recursive: true }));
  const plane = await startControlPlane({ dataDir: join(dir, "cp"), port: 0, bind: "127.0.0.1", log: () => {} });
  cleanup.defer(() => plane.stop());
  const client = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
  const upstream = cleanup.use(await startUpstream());
  const resolvConf = join(dir, "resolv.conf");
  await Deno.writeTextFile(resolvConf, `nameserver ${upstream.address}\n`);
  const logs: string[] = [];
  const dns = new ClusterDns({
    source: { client },
    address: "127.0.0.1",
    port: 0,
    forwarder: { resolvConfPath: resolvConf, upstreamPort: upstream.port, timeoutMs: 300 },
    log: (line) => logs.push(line),
  });
  cleanup.defer(() => dns.stop());
  await dns.start();
  const owned = cleanup.move();
  return {
    client,
    dns,
    upstream,
    logs,
    ask: (name: string, type: Parameters<typeof query>[2] = "A", options: Parameters<typeof query>[3] = {}) =>
      query(dns.port, name, type, options),
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

type Fixture = Awaited<ReturnType<typeof startFixture>>;

async function createNamespace(client: ApiClient, name: string): Promise<void> {
  await client.kind<Namespace>("v1", "Namespace").create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

function createService(client: ApiClient, namespace: string, name: string, spec: Service["spec"]): Promise<Service> {
  return client.kind<Service>("v1", "Service").create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace, name },
    spec,
  });
}

function createSlice(
  client: ApiClient,
  namespace: string,
  service: string,
  body: Pick<EndpointSlice, "endpoints" | "ports">,
): Promise<EndpointSlice> {
  return client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice").create({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { namespace, name: `${service}-slice`, labels: { [LABEL_SERVICE_NAME]: service } },
    addressType: "IPv4",
    ...body,
  });
}

/** Asks until `check` holds (the informers see API changes shortly after they are made). */
async function eventually(
  fixture: Fixture,
  name: string,
  type: Parameters<typeof query>[2],
  check: (r: QueryResult) => boolean,
  options: Parameters<typeof query>[3] = {},
): Promise<QueryResult> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const result = await fixture.ask(name, type, options);
    if (check(result)) return result;
    if (Date.now() > deadline) throw new Error(`DNS never gave the expected answer for ${name} ${type}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The shop namespace: a ClusterIP Service, a headless one with two ready and one unready endpoint, an alias. */
async function populate(fixture: Fixture): Promise<{ web: Service }> {
  const { client } = fixture;
  await createNamespace(client, "shop");
  const web = await createService(client, "shop", "web", {
    selector: { app: "web" },
    ports: [{ name: "http", port: 80, targetPort: 8080 }],
  });
  await createService(client, "shop", "db", {
    clusterIP: "None",
    selector: { app: "db" },
    ports: [{ name: "pg", port: 5432 }],
  });
  await createSlice(client, "shop", "db", {
    endpoints: [
      { addresses: ["10.42.1.5"], hostname: "db-0", conditions: { ready: true } },
      { addresses: ["10.42.2.6"], hostname: "db-1", conditions: { ready: true } },
      { addresses: ["10.42.3.7"], hostname: "db-2", conditions: { ready: false } },
    ],
    ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
  });
  await createService(client, "shop", "nas", { type: "ExternalName", externalName: "nas.example.test" });
  await eventually(fixture, `db.shop.svc.${DOMAIN}`, "A", (r) => r.answers?.length === 2);
  await eventually(fixture, `nas.shop.svc.${DOMAIN}`, "A", (r) => r.rcodeName === "NOERROR");
  return { web };
}

Deno.test("ClusterDns answers Services, endpoints, SRV and pods from the API over UDP and TCP", async () => {
  await using fixture = await startFixture();
  assert.ok(fixture.dns.synced);
  const { web } = await populate(fixture);
  const clusterIP = web.spec!.clusterIP!;
  assert.match(clusterIP, /^10\.43\.\d+\.\d+$/, "the API server allocated a ClusterIP");
  for (const tcp of [false, true]) {
    const a = await fixture.ask(`web.shop.svc.${DOMAIN}`, "A", { tcp });
    assert.equal(a.rcodeName, "NOERROR");
    assert.equal(a.flag_aa, true);
    assert.deepEqual(a.answers?.map((r) => [r.type, (r as { ttl: number }).ttl, dataOf([r])[0]]), [[
      "A",
      5,
      clusterIP,
    ]]);
  }
  const srv = await fixture.ask(`_http._tcp.web.shop.svc.${DOMAIN}`, "SRV");
  assert.deepEqual(dataOf(srv.answers), [{ priority: 0, weight: 100, port: 80, target: `web.shop.svc.${DOMAIN}` }]);
  assert.deepEqual(dataOf(srv.additionals), [clusterIP]);
  const headless = await fixture.ask(`db.shop.svc.${DOMAIN}`, "A", { tcp: true });
  assert.deepEqual(dataOf(headless.answers), ["10.42.1.5", "10.42.2.6"]);
  assert.deepEqual(dataOf((await fixture.ask(`db-1.db.shop.svc.${DOMAIN}`)).answers), ["10.42.2.6"]);
  const headlessSrv = await fixture.ask(`_pg._tcp.db.shop.svc.${DOMAIN}`, "SRV");
  assert.deepEqual(dataOf(headlessSrv.answers).map((d) => (d as { target: string }).target), [
    `db-0.db.shop.svc.${DOMAIN}`,
    `db-1.db.shop.svc.${DOMAIN}`,
  ]);
  assert.deepEqual(dataOf((await fixture.ask(`10-42-7-9.shop.pod.${DOMAIN}`)).answers), ["10.42.7.9"]);
  const missing = await fixture.ask(`nope.shop.svc.${DOMAIN}`);
  assert.equal(missing.rcodeName, "NXDOMAIN");
  assert.deepEqual(missing.authorities?.map((r) => [r.type, r.name]), [["SOA", DOMAIN]]);
  const aaaa = await fixture.ask(`web.shop.svc.${DOMAIN}`, "AAAA");
  assert.equal(aaaa.rcodeName, "NOERROR");
  assert.deepEqual(aaaa.answers, []);
  assert.equal(aaaa.authorities?.[0]?.type, "SOA");
  const ptr = await fixture.ask(`${clusterIP.split(".").reverse().join(".")}.in-addr.arpa`, "PTR");
  assert.deepEqual(dataOf(ptr.answers), [`web.shop.svc.${DOMAIN}`]);
});

Deno.test("ClusterDns follows Service and EndpointSlice changes", async () => {
  await using fixture = await startFixture();
  await populate(fixture);
  const slices = fixture.client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
  const slice = await slices.get("db-slice", { namespace: "shop" });
  await slices.update({ ...slice, endpoints: [{ addresses: ["10.42.4.4"], hostname: "db-0" }] });
  await eventually(fixture, `db.shop.svc.${DOMAIN}`, "A", (r) => dataOf(r.answers).join() === "10.42.4.4");
  await fixture.client.kind("v1", "Service").delete("web", { namespace: "shop" });
  await eventually(fixture, `web.shop.svc.${DOMAIN}`, "A", (r) => r.rcodeName === "NXDOMAIN");
});

Deno.test("ClusterDns forwards other names upstream and follows ExternalName aliases", async () => {
  await using fixture = await startFixture();
  await populate(fixture);
  const www = await fixture.ask("www.example.test");
  assert.equal(www.rcodeName, "NOERROR");
  assert.equal(www.flag_aa, false);
  assert.deepEqual(dataOf(www.answers), ["192.0.2.10"]);
  assert.equal((await fixture.ask("missing.example.test")).rcodeName, "NXDOMAIN");
  assert.equal((await fixture.ask("dead.example.test")).rcodeName, "SERVFAIL");
  const big = await fixture.ask("big.example.test", "A", { tcp: true });
  assert.equal(big.answers?.length, 60);
  const nas = await fixture.ask(`nas.shop.svc.${DOMAIN}`);
  assert.deepEqual(nas.answers?.map((r) => [r.type, dataOf([r])[0]]), [
    ["CNAME", "nas.example.test"],
    ["A", "192.0.2.50"],
  ]);
  const cname = await fixture.ask(`nas.shop.svc.${DOMAIN}`, "CNAME");
  assert.deepEqual(cname.answers?.map((r) => r.type), ["CNAME"]);
});

Deno.test("ClusterDns truncates a big UDP answer to what fits, and gives all of it over TCP", async () => {
  await using fixture = await startFixture();
  await createNamespace(fixture.client, "big");
  await createService(fixture.client, "big", "many", { clusterIP: "None", ports: [{ name: "web", port: 80 }] });
  await createSlice(fixture.client, "big", "many", {
    endpoints: Array.from({ length: 100 }, (_, i) => ({ addresses: [`10.42.${Math.floor(i / 50)}.${i % 50 + 1}`] })),
    ports: [{ name: "web", port: 80, protocol: "TCP" }],
  });
  const name = `many.big.svc.${DOMAIN}`;
  const tcp = await eventually(fixture, name, "A", (r) => (r.answers?.length ?? 0) > 0, { tcp: true });
  assert.equal(tcp.answers?.length, 100, "TCP carries every record");
  const udp = await fixture.ask(name, "A");
  assert.equal(udp.flag_tc, true);
  assert.ok(udp.bytes <= 512);
  assert.ok((udp.answers?.length ?? 0) > 10, "as many records as fit");
  const edns = await fixture.ask(name, "A", { ednsSize: 4096 });
  assert.ok(edns.bytes <= 1232, "never more than 1232 bytes over UDP");
  assert.ok((edns.answers?.length ?? 0) > (udp.answers?.length ?? 0));
  assert.equal((await fixture.ask(name, "A", { tcp: true })).answers?.length, 100);
});

Deno.test("ClusterDns answers busybox nslookup", async () => {
  await using fixture = await startFixture();
  const { web } = await populate(fixture);
  const nslookup = async (...args: string[]) => {
    const out = await new Deno.Command("busybox", {
      args: ["nslookup", ...args, `127.0.0.1:${fixture.dns.port}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  };
  const a = await nslookup("-type=a", `web.shop.svc.${DOMAIN}`);
  assert.match(
    a,
    new RegExp(
      `Name:\\s+web\\.shop\\.svc\\.cluster\\.local\\s+Address:\\s+${web.spec!.clusterIP!.replaceAll(".", "\\.")}`,
    ),
  );
  const srv = await nslookup("-type=srv", `_pg._tcp.db.shop.svc.${DOMAIN}`);
  assert.match(srv, /0 50 5432 db-0\.db\.shop\.svc\.cluster\.local/);
  assert.match(srv, /0 50 5432 db-1\.db\.shop\.svc\.cluster\.local/);
  assert.match(await nslookup("-type=a", `nope.shop.svc.${DOMAIN}`), /NXDOMAIN/);
  assert.match(await nslookup("-type=a", "www.example.test"), /Address:\s+192\.0\.2\.10/);
});

/** A seeded pseudo-random generator (mulberry32), so a failing fuzz run can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Packets built to break parsers: loops, overflows, odd headers, huge counts. */
function craftedPackets(): { name: string; bytes: Buffer; rcode?: number | "none" }[] {
  const header = (flags: number, qd: number, an = 0, ns = 0, ar = 0) => {
    const b = Buffer.alloc(12);
    b.writeUInt16BE(0x1234, 0);
    b.writeUInt16BE(flags, 2);
    b.writeUInt16BE(qd, 4);
    b.writeUInt16BE(an, 6);
    b.writeUInt16BE(ns, 8);
    b.writeUInt16BE(ar, 10);
    return b;
  };
  const q = (name: string) => dnsPacket.encode({ type: "query", id: 0x1234, questions: [{ name, type: "A" }] });
  const manyLabels = Buffer.concat([
    header(0x0100, 1),
    Buffer.from(Array.from({ length: 200 }, () => [1, 0x61]).flat()),
    Buffer.from([0, 0, 1, 0, 1]),
  ]);
  return [
    {
      name: "self-pointing compression",
      bytes: Buffer.concat([header(0, 1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]),
      rcode: 1,
    },
    { name: "forward pointer", bytes: Buffer.concat([header(0, 1), Buffer.from([0xc0, 40, 0, 1, 0, 1])]), rcode: 1 },
    {
      name: "two-pointer loop",
      bytes: Buffer.concat([header(0, 1), Buffer.from([1, 0x61, 0xc0, 14, 0xc0, 12, 0, 1, 0, 1])]),
      rcode: 1,
    },
    { name: "200 labels", bytes: manyLabels, rcode: 1 },
    {
      name: "label running past the end",
      bytes: Buffer.concat([header(0, 1), Buffer.from([63, 0x61, 0x62])]),
      rcode: 1,
    },
    { name: "65535 questions", bytes: Buffer.concat([header(0, 65535), q("a.test").subarray(12)]), rcode: 1 },
    { name: "no question", bytes: header(0, 0), rcode: 1 },
    {
      name: "two questions",
      bytes: Buffer.concat([header(0, 2), q("a.test").subarray(12), q("b.test").subarray(12)]),
      rcode: 1,
    },
    {
      name: "65535 answers claimed",
      bytes: Buffer.concat([header(0, 1, 65535), q("web.cluster.local").subarray(12)]),
      rcode: 1,
    },
    { name: "a response", bytes: Buffer.concat([header(0x8000, 1), q("a.test").subarray(12)]), rcode: "none" },
    { name: "opcode UPDATE", bytes: Buffer.concat([header(5 << 11, 1), q("a.test").subarray(12)]), rcode: 4 },
    { name: "11 bytes", bytes: header(0, 1).subarray(0, 11), rcode: "none" },
    { name: "empty", bytes: Buffer.alloc(0), rcode: "none" },
    { name: "bad label type", bytes: Buffer.concat([header(0, 1), Buffer.from([0x80, 0, 0, 1, 0, 1])]), rcode: 1 },
    {
      name: "binary name in the cluster zone",
      bytes: Buffer.concat([header(0, 1), Buffer.from([2, 0xff, 0xfe]), q(DOMAIN).subarray(12)]),
      rcode: 1,
    },
    {
      name: "AXFR of the cluster zone",
      bytes: dnsPacket.encode({ type: "query", id: 0x1234, questions: [{ name: DOMAIN, type: "AXFR" }] }),
      rcode: 5,
    },
    {
      name: "class CH in the cluster zone",
      bytes: dnsPacket.encode({ type: "query", id: 0x1234, questions: [{ name: DOMAIN, type: "TXT", class: "CH" }] }),
      rcode: 5,
    },
  ];
}

Deno.test("ClusterDns answers FORMERR or nothing to malformed packets and keeps answering under fuzzing", async () => {
  await using fixture = await startFixture();
  await populate(fixture);
  const port = fixture.dns.port;
  for (const packet of craftedPackets()) {
    const reply = await exchangeUdp(port, packet.bytes, { timeoutMs: packet.rcode === "none" ? 200 : 3000 });
    if (packet.rcode === "none") {
      assert.equal(reply, undefined, packet.name);
      continue;
    }
    assert.ok(reply, `${packet.name}: answered`);
    assert.equal(reply.readUInt16BE(0), 0x1234, packet.name);
    assert.equal(reply[3]! & 0xf, packet.rcode, packet.name);
    const viaTcp = await exchangeTcp(port, packet.bytes);
    assert.equal(viaTcp?.[3]! & 0xf, packet.rcode, `${packet.name} over TCP`);
  }

  const next = random(20260101);
  const valid = [
    dnsPacket.encode({ type: "query", id: 1, flags: 256, questions: [{ name: `web.shop.svc.${DOMAIN}`, type: "A" }] }),
    dnsPacket.encode({ type: "query", id: 2, questions: [{ name: `_pg._tcp.db.shop.svc.${DOMAIN}`, type: "SRV" }] }),
    dnsPacket.encode({ type: "query", id: 3, questions: [{ name: "www.example.test", type: "A" }] }),
  ];
  const packets: Buffer[] = [];
  for (let i = 0; i < 6000; i++) {
    const kind = i % 3;
    if (kind === 0) {
      packets.push(Buffer.from(Array.from({ length: Math.floor(next() * 300) }, () => Math.floor(next() * 256))));
    } else {
      const bytes = Buffer.from(valid[Math.floor(next() * valid.length)]!);
      if (kind === 1) {
        for (let flips = 1 + Math.floor(next() * 6); flips > 0; flips--) {
          bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
        }
        packets.push(bytes);
      } else {
        packets.push(bytes.subarray(0, Math.floor(next() * bytes.length)));
      }
    }
  }
  const socket = dgram.createSocket("udp4");
  let replies = 0;
  socket.on("message", () => replies++);
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  for (let i = 0; i < packets.length; i += 100) {
    for (const bytes of packets.slice(i, i + 100)) socket.send(bytes, port, "127.0.0.1");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const tcpGarbage = Array.from({ length: 40 }, (_, i) =>
    new Promise<void>((resolve) => {
      const conn = net.connect({ port, host: "127.0.0.1" });
      conn.on("error", () => resolve());
      conn.on("close", () => resolve());
      conn.on("connect", () => {
        const junk = Buffer.from(packets[i * 7]!);
        const framed = Buffer.concat([
          Buffer.from([junk.length >> 8, junk.length & 0xff]),
          junk,
          Buffer.from([0, 40, 1]),
        ]);
        conn.write(i % 2 === 0 ? framed : junk);
        setTimeout(() => conn.destroy(), 100);
      });
    }));
  await Promise.all(tcpGarbage);
  // Replies arrive while the server works through the burst: wait for them, not for a fixed time.
  for (let waited = 0; replies <= 1000 && waited < 15_000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  socket.close();
  assert.ok(replies > 1000, `the server kept replying (${replies} replies)`);
  const after = await fixture.ask(`web.shop.svc.${DOMAIN}`);
  assert.equal(after.rcodeName, "NOERROR");
  assert.equal(after.answers?.length, 1);
  assert.equal((await fixture.ask(`db.shop.svc.${DOMAIN}`, "A", { tcp: true })).answers?.length, 2);
  assert.equal((await fixture.ask("www.example.test")).rcodeName, "NOERROR");
  assert.ok(fixture.logs.length < 50, `logs stay bounded (${fixture.logs.length} lines)`);
});

Deno.test("ClusterDns.start() waits while its address does not exist yet, and stop() ends the wait", async () => {
  const logs: string[] = [];
  const dns = new ClusterDns({
    source: {
      client: new ApiClient({ server: "https://in-process", transport: () => Promise.reject(new Error("offline")) }),
    },
    address: "192.0.2.53",
    port: 0,
    bindRetryMs: 20,
    log: (line) => logs.push(line),
  });
  const started = dns.start();
  for (let waited = 0; logs.length === 0 && waited < 10_000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.deepEqual(logs, [
    "Cluster DNS waits for address 192.0.2.53 to exist on this node (the pod bridge is not up yet)",
  ]);
  await dns.stop();
  await started;
  assert.equal(dns.port, 0);
});

Deno.test("ClusterDns refuses bad options and a port in use with a clear error", async () => {
  const client = new ApiClient({ server: "https://in-process", transport: () => Promise.reject(new Error("offline")) });
  assert.throws(
    () => new ClusterDns({ source: { client }, address: "gateway" }),
    /Invalid option "address": "gateway"/,
  );
  assert.throws(
    () => new ClusterDns({ source: { client }, address: "127.0.0.1", port: 70000 }),
    /Invalid option "port"/,
  );
  const taken = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => taken.bind(0, "127.0.0.1", () => resolve()));
  const dns = new ClusterDns({ source: { client }, address: "127.0.0.1", port: taken.address().port, log: () => {} });
  await assert.rejects(dns.start(), /Cannot listen on 127\.0\.0\.1:\d+ for DNS: .*EADDRINUSE/);
  await dns.stop();
  taken.close();
});
