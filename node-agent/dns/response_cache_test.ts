import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { ManualClock } from "@skiff/api";
import { type Answer, dnsPacket } from "./_packet.ts";
import { ResponseCache } from "./response_cache.ts";

function rawQuery(name: string, id = 1): Buffer {
  return dnsPacket.encode({ type: "query", id, questions: [{ name, type: "A", class: "IN" }] });
}

function rawResponse(name: string, options: { ttls?: number[]; rcode?: number; flags?: number; soa?: number } = {}) {
  const answers: Answer[] = (options.ttls ?? [300]).map((ttl, i) => ({
    type: "A",
    name,
    ttl,
    data: `192.0.2.${i + 1}`,
  }));
  return dnsPacket.encode({
    type: "response",
    id: 1,
    flags: (options.flags ?? 0) | (options.rcode ?? 0),
    questions: [{ name, type: "A", class: "IN" }],
    answers: options.rcode ? [] : answers,
    authorities: options.soa !== undefined
      ? [{ type: "SOA", name: "example.test", ttl: options.soa, data: { mname: "ns", rname: "h" } }]
      : [],
  });
}

const ttls = (buf: Buffer | undefined) => dnsPacket.decode(buf!).answers?.map((a) => (a as { ttl: number }).ttl) ?? [];

Deno.test("ResponseCache serves an answer with the query's ID and spelling and TTLs lowered by its age", async () => {
  const clock = new ManualClock(0);
  const cache = new ResponseCache({ clock });
  const key = ResponseCache.keyOf(rawQuery("www.example.test"));
  cache.set(key, rawResponse("www.example.test", { ttls: [300, 60] }));
  await clock.advance(10_500);
  const query = rawQuery("WWW.example.TEST", 77);
  assert.equal(ResponseCache.keyOf(query), key, "the key ignores case");
  const hit = cache.get(key, query);
  const decoded = dnsPacket.decode(hit!);
  assert.equal(decoded.id, 77);
  assert.equal(decoded.questions?.[0]?.name, "WWW.example.TEST");
  assert.deepEqual(ttls(hit), [290, 50]);
  await clock.advance(49_500);
  assert.equal(cache.get(key, query), undefined, "gone once the smallest TTL has passed");
  assert.equal(cache.size, 0);
});

Deno.test("ResponseCache keeps NXDOMAIN for the SOA's TTL and caps long TTLs", async () => {
  const clock = new ManualClock(0);
  const cache = new ResponseCache({ clock, maxTtlSeconds: 100 });
  cache.set("nx", rawResponse("gone.example.test", { rcode: 3, soa: 30 }));
  cache.set("long", rawResponse("www.example.test", { ttls: [86400] }));
  await clock.advance(29_000);
  assert.ok(cache.get("nx", rawQuery("gone.example.test")));
  await clock.advance(1_000);
  assert.equal(cache.get("nx", rawQuery("gone.example.test")), undefined);
  await clock.advance(70_000);
  assert.equal(cache.get("long", rawQuery("www.example.test")), undefined);
});

Deno.test("ResponseCache does not keep failures, truncated answers, TTL 0 or negative answers without an SOA", () => {
  const cache = new ResponseCache({ clock: new ManualClock(0) });
  cache.set("servfail", rawResponse("a.test", { rcode: 2, soa: 60 }));
  cache.set("tc", rawResponse("a.test", { flags: dnsPacket.TRUNCATED_RESPONSE }));
  cache.set("zero", rawResponse("a.test", { ttls: [0] }));
  cache.set("nosoa", rawResponse("a.test", { rcode: 3 }));
  cache.set("garbage", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]) as Buffer);
  assert.equal(cache.size, 0);
});

Deno.test("ResponseCache drops the least recently used answer beyond maxEntries", () => {
  const cache = new ResponseCache({ clock: new ManualClock(0), maxEntries: 2 });
  cache.set("a", rawResponse("a.test"));
  cache.set("b", rawResponse("b.test"));
  assert.ok(cache.get("a", rawQuery("a.test")));
  cache.set("c", rawResponse("c.test"));
  assert.equal(cache.size, 2);
  assert.equal(cache.get("b", rawQuery("b.test")), undefined);
  assert.ok(cache.get("a", rawQuery("a.test")));
  assert.ok(cache.get("c", rawQuery("c.test")));
  assert.throws(() => new ResponseCache({ maxEntries: -1 }), /Invalid option "maxEntries"/);
});
