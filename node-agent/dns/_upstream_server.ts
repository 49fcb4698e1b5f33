/**
 * A small authoritative DNS server for the zone `example.test`, run as its
 * own process by the tests as the node's "upstream" name server. It
 * answers over UDP and TCP on one loopback port (printed as JSON on its
 * first line of output) and has names that misbehave on purpose:
 *
 * - `www` A 192.0.2.10 (TTL 300), `nas` A 192.0.2.50, `short` A 192.0.2.11 (TTL 1)
 * - `big`: 60 A records; over UDP, truncated (TC) when they do not fit
 * - `flaky`: the first UDP query is dropped, later ones answered
 * - `dead`: never answered; `broken`: SERVFAIL
 * - anything else in the zone: NXDOMAIN with the SOA (TTL 60)
 * - `count.<name>` TXT: how many queries for `<name>` arrived so far
 *
 * Usage: `deno run -A _upstream_server.ts [address]`
 *
 * @module
 */

import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import net from "node:net";
import { type Answer, dnsPacket, frame, FrameReader, type Question, udpLimit } from "./_packet.ts";

const ZONE = "example.test";
const SOA: Answer = {
  type: "SOA",
  name: ZONE,
  ttl: 60,
  data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 1, minimum: 60 },
};
const counts = new Map<string, number>();

const a = (name: string, data: string, ttl = 300): Answer => ({ type: "A", name, ttl, data });

/** The response to one query, or undefined to stay silent. */
function respond(raw: Buffer, udp: boolean): Buffer | undefined {
  const query = dnsPacket.decode(raw);
  const question = query.questions?.[0] as Question | undefined;
  if (!question) return undefined;
  const name = question.name.toLowerCase();
  const seen = (counts.get(name) ?? 0) + 1;
  counts.set(name, seen);
  let rcode = 0;
  let answers: Answer[] = [];
  let authorities: Answer[] = [];
  if (name.startsWith("count.") && question.type === "TXT") {
    answers = [{ type: "TXT", name: question.name, ttl: 0, data: String(counts.get(name.slice(6)) ?? 0) }];
  } else if (name === `dead.${ZONE}`) {
    return undefined;
  } else if (name === `flaky.${ZONE}` && udp && seen === 1) {
    return undefined;
  } else if (name === `broken.${ZONE}`) {
    rcode = 2;
  } else if (name === `www.${ZONE}` || name === `flaky.${ZONE}`) {
    answers = question.type === "A" ? [a(question.name, "192.0.2.10")] : [];
    if (answers.length === 0) authorities = [SOA];
  } else if (name === `nas.${ZONE}`) {
    answers = question.type === "A" ? [a(question.name, "192.0.2.50")] : [];
    if (answers.length === 0) authorities = [SOA];
  } else if (name === `short.${ZONE}`) {
    answers = [a(question.name, "192.0.2.11", 1)];
  } else if (name === `big.${ZONE}`) {
    answers = Array.from({ length: 60 }, (_, i) => a(question.name, `192.0.2.${100 + i}`));
  } else {
    rcode = 3;
    authorities = [SOA];
  }
  const packet = {
    type: "response" as const,
    id: query.id,
    flags: (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: [question],
    answers,
    authorities,
  };
  const full = dnsPacket.encode(packet);
  if (udp && full.length > udpLimit(query)) {
    return dnsPacket.encode({
      ...packet,
      answers: [],
      authorities: [],
      flags: packet.flags | dnsPacket.TRUNCATED_RESPONSE,
    });
  }
  return full;
}

function safely(raw: Buffer, udp: boolean): Buffer | undefined {
  try {
    return respond(raw, udp);
  } catch {
    return undefined;
  }
}

/** Serves on a free port of `address`, the same for UDP and TCP (trying again when TCP finds it taken). */
async function serve(address: string): Promise<number> {
  for (let attempt = 1;; attempt++) {
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => udp.bind({ port: 0, address }, () => resolve()));
    const port = udp.address().port;
    const tcp = net.createServer((socket) => {
      const reader = new FrameReader();
      socket.on("error", () => socket.destroy());
      socket.on("data", (chunk: Buffer) => {
        for (const message of reader.push(chunk)) {
          const response = safely(Buffer.from(message), false);
          if (response) socket.write(frame(response));
        }
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ port, host: address }, () => resolve());
      });
    } catch (err) {
      udp.close();
      if (attempt < 20) continue;
      throw err;
    }
    udp.on("message", (message, remote) => {
      const response = safely(message, true);
      if (response) udp.send(response, remote.port, remote.address);
    });
    return port;
  }
}

if (import.meta.main) {
  console.log(JSON.stringify({ port: await serve(Deno.args[0] ?? "127.0.0.1") }));
}
