import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ageTtls, dnsPacket, frame, FrameReader, minimumTtl, questionBytes, udpLimit } from "./_packet.ts";

const response = dnsPacket.encode({
  type: "response",
  id: 1,
  questions: [{ name: "a.test", type: "A" }],
  answers: [
    { type: "A", name: "a.test", ttl: 300, data: "192.0.2.1" },
    { type: "CNAME", name: "b.test", ttl: 40, data: "a.test" },
  ],
  additionals: [{
    type: "OPT",
    name: ".",
    udpPayloadSize: 1232,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [],
  }],
});

Deno.test("FrameReader splits a TCP stream into messages whatever the chunk boundaries", () => {
  const messages = [Buffer.from("first"), Buffer.alloc(0), Buffer.alloc(700, 7)];
  const stream = Buffer.concat(messages.map((m) => frame(m)));
  for (const size of [1, 2, 3, 50, stream.length]) {
    const reader = new FrameReader();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) out.push(...reader.push(stream.subarray(i, i + size)));
    assert.deepEqual(out.map((m) => Buffer.from(m).toString("hex")), messages.map((m) => m.toString("hex")), `${size}`);
  }
});

Deno.test("minimumTtl() and ageTtls() walk every record of a raw answer but the EDNS OPT", () => {
  assert.equal(minimumTtl(response), 40);
  const copy = Buffer.from(response);
  ageTtls(copy, 100);
  const aged = dnsPacket.decode(copy);
  assert.deepEqual(aged.answers?.map((a) => (a as { ttl: number }).ttl), [200, 0]);
  assert.equal((aged.additionals?.[0] as { udpPayloadSize: number }).udpPayloadSize, 1232);
  assert.throws(() => minimumTtl(response.subarray(0, response.length - 3)));
});

Deno.test("questionBytes() is the question's wire form, and udpLimit() reads EDNS within 512-1232", () => {
  assert.equal(questionBytes(response).toString("hex"), "01610474657374000001" + "0001");
  assert.equal(udpLimit({ additionals: [] }), 512);
  const opt = (udpPayloadSize: number) => ({
    additionals: [{
      type: "OPT" as const,
      name: ".",
      udpPayloadSize,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: 0,
      flag_do: false,
      options: [],
    }],
  });
  assert.equal(udpLimit(opt(4096)), 1232);
  assert.equal(udpLimit(opt(100)), 512);
  assert.equal(udpLimit(opt(1000)), 1000);
});
