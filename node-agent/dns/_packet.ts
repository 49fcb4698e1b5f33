/**
 * DNS wire helpers over the `dns-packet` library: header flags, building
 * responses, the TTL walk of a raw response (for the forwarding cache),
 * and RFC 1035 §4.2.2 TCP length framing.
 *
 * @module
 */

// @ts-types="@types/dns-packet"
import dnsPacket from "dns-packet";
import { Buffer } from "node:buffer";

export { dnsPacket };
export type { Answer, DecodedPacket, Packet, Question, RecordType } from "dns-packet";

/** Response codes used by the server. */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** The header bit of a response. */
const QR = 0x8000;
/** Where the opcode sits in the flags word. */
const OPCODE_SHIFT = 11;
/** The type number of the EDNS OPT pseudo-record, whose TTL field is not a TTL. */
const TYPE_OPT = 41;
/** The smallest DNS message: the header. */
export const HEADER_BYTES = 12;
/** The UDP payload every resolver accepts (RFC 1035). */
const CLASSIC_UDP_SIZE = 512;
/** The largest UDP payload the server sends, whatever the client advertises (DNS flag day 2020). */
export const MAX_UDP_SIZE = 1232;

/** The fixed fields of a message header, read without decoding the rest. */
export interface Header {
  /** Message ID. */
  id: number;
  /** True for a response. */
  response: boolean;
  /** The opcode (0: QUERY). */
  opcode: number;
  /** Recursion desired. */
  rd: boolean;
  /** Truncated. */
  tc: boolean;
  /** Response code. */
  rcode: number;
  /** Question count. */
  qdcount: number;
}

/** Reads the header of `buf`, or undefined when it is shorter than a header. */
export function readHeader(buf: Uint8Array): Header | undefined {
  if (buf.length < HEADER_BYTES) return undefined;
  const flags = (buf[2]! << 8) | buf[3]!;
  return {
    id: (buf[0]! << 8) | buf[1]!,
    response: (flags & QR) !== 0,
    opcode: (flags >> OPCODE_SHIFT) & 0xf,
    rd: (flags & dnsPacket.RECURSION_DESIRED) !== 0,
    tc: (flags & dnsPacket.TRUNCATED_RESPONSE) !== 0,
    rcode: flags & 0xf,
    qdcount: (buf[4]! << 8) | buf[5]!,
  };
}

/** Flags of a response to a query with header `query`. */
export function responseFlags(
  query: Pick<Header, "opcode" | "rd">,
  options: { rcode: number; authoritative?: boolean; truncated?: boolean },
): number {
  return (query.opcode << OPCODE_SHIFT) |
    (options.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    (options.truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) |
    (query.rd ? dnsPacket.RECURSION_DESIRED : 0) |
    dnsPacket.RECURSION_AVAILABLE |
    (options.rcode & 0xf);
}

/**
 * A response with no records but the question, e.g. FORMERR, SERVFAIL,
 * REFUSED, or an empty truncated answer that sends the client to TCP.
 */
export function bareResponse(
  query: Header,
  options: { rcode: number; question?: dnsPacket.Question; truncated?: boolean },
): Buffer {
  return dnsPacket.encode({
    type: "response",
    id: query.id,
    flags: responseFlags(query, options),
    questions: options.question ? [options.question] : [],
  });
}

/** Sets the ID of a message in place. */
export function setId(buf: Uint8Array, id: number): void {
  buf[0] = (id >> 8) & 0xff;
  buf[1] = id & 0xff;
}

interface NameCodec {
  decode: ((buf: Buffer, offset: number) => string) & { bytes: number };
}

/** dns-packet's name codec: exported by the library, left out of its type definitions. */
const nameCodec = (dnsPacket as unknown as { name: NameCodec }).name;

/** Bytes the (possibly compressed) name at `offset` occupies. Throws on a malformed name. */
function nameBytes(buf: Buffer, offset: number): number {
  nameCodec.decode(buf, offset);
  return nameCodec.decode.bytes;
}

/** One resource record's place in a raw message. */
interface RecordSpan {
  /** The record type number. */
  type: number;
  /** Offset of the 32-bit TTL. */
  ttlOffset: number;
}

/** The records of the answer, authority and additional sections of a raw message. Throws when malformed. */
function recordSpans(buf: Buffer): RecordSpan[] {
  const count = (at: number) => (buf[at]! << 8) | buf[at + 1]!;
  if (buf.length < HEADER_BYTES) throw new RangeError("Message shorter than a DNS header");
  let offset = HEADER_BYTES;
  for (let i = count(4); i > 0; i--) offset += nameBytes(buf, offset) + 4;
  const spans: RecordSpan[] = [];
  const records = count(6) + count(8) + count(10);
  for (let i = 0; i < records; i++) {
    offset += nameBytes(buf, offset);
    if (offset + 10 > buf.length) throw new RangeError("Resource record runs past the end of the message");
    spans.push({ type: buf.readUInt16BE(offset), ttlOffset: offset + 4 });
    offset += 10 + buf.readUInt16BE(offset + 8);
  }
  if (offset > buf.length) throw new RangeError("Resource record data runs past the end of the message");
  return spans;
}

/**
 * The smallest TTL among the records of a raw response (EDNS OPT left
 * out), or undefined when it has none. Throws when the message is malformed.
 */
export function minimumTtl(buf: Buffer): number | undefined {
  let min: number | undefined;
  for (const span of recordSpans(buf)) {
    if (span.type === TYPE_OPT) continue;
    const ttl = buf.readUInt32BE(span.ttlOffset);
    min = min === undefined ? ttl : Math.min(min, ttl);
  }
  return min;
}

/** Lowers every TTL of a raw response by `seconds` (not below 0), in place. Throws when malformed. */
export function ageTtls(buf: Buffer, seconds: number): void {
  for (const span of recordSpans(buf)) {
    if (span.type === TYPE_OPT) continue;
    buf.writeUInt32BE(Math.max(0, buf.readUInt32BE(span.ttlOffset) - seconds), span.ttlOffset);
  }
}

/**
 * The first question's name, type and class as raw bytes (offset 12 to
 * the end of the question), for cache keys and for copying a client's
 * spelling of the name into a cached response.
 */
export function questionBytes(buf: Buffer): Buffer {
  const end = HEADER_BYTES + nameBytes(buf, HEADER_BYTES) + 4;
  if (end > buf.length) throw new RangeError("Question runs past the end of the message");
  return buf.subarray(HEADER_BYTES, end);
}

/** A length-prefixed message (RFC 1035 §4.2.2) for a TCP stream. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(message.length + 2);
  out.writeUInt16BE(message.length, 0);
  out.set(message, 2);
  return out;
}

/** Splits a TCP byte stream into the length-prefixed messages it carries. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  /** Adds bytes from the stream; returns every message now complete, in order. */
  push(chunk: Uint8Array): Buffer[] {
    this.#pending = this.#pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#pending, chunk]);
    const messages: Buffer[] = [];
    while (this.#pending.length >= 2) {
      const length = this.#pending.readUInt16BE(0);
      if (this.#pending.length < length + 2) break;
      messages.push(this.#pending.subarray(2, length + 2));
      this.#pending = this.#pending.subarray(length + 2);
    }
    return messages;
  }
}

/** The UDP payload size a query allows its response (EDNS0 OPT, else 512), capped at {@linkcode MAX_UDP_SIZE}. */
export function udpLimit(query: dnsPacket.Packet): number {
  for (const record of query.additionals ?? []) {
    if (record.type === "OPT") {
      return Math.min(MAX_UDP_SIZE, Math.max(CLASSIC_UDP_SIZE, record.udpPayloadSize));
    }
  }
  return CLASSIC_UDP_SIZE;
}

/** The EDNS OPT record of a query, if any. */
export function optRecord(query: dnsPacket.Packet): dnsPacket.Answer | undefined {
  return query.additionals?.find((record) => record.type === "OPT");
}
