/**
 * `POST /api/v1/nodes/<name>/certificate`: a node agent's serving
 * certificate for its logs and exec endpoint (port 10250), signed by the
 * cluster CA.
 *
 * The agent makes its own key and sends only a PKCS#10 request for it, so
 * the private key never leaves the node. The request body and the answer
 * are one object, as a Binding is:
 *
 * ```json
 * {"apiVersion": "v1", "kind": "NodeCertificate", "spec": {"request": "-----BEGIN CERTIFICATE REQUEST-----…"}}
 * ```
 *
 * and the answer adds `status: {certificate, ca, notAfter}` (PEM, PEM,
 * RFC 3339). The certificate is valid for {@linkcode NODE_CERT_DAYS} days;
 * its common name is the node's name and its subject alternative names are
 * the node's name and the addresses in the Node's `status.addresses`
 * (InternalIP, ExternalIP, Hostname, …): whatever names the request asks
 * for are ignored, so a node cannot get a certificate for another machine's
 * address. A node may ask only for its own Node; an admin for any.
 *
 * @module
 */

import { isIP } from "node:net";
import { BadRequestError, ForbiddenError, type KubeObject, type Node, NotFoundError } from "@skiff/api";
import { type CertificateAuthority, signCertificateRequest, type SignedCertificate } from "../pki/mod.ts";
import { bodyFormat, decodeObject, mediaType, readBody } from "./_body.ts";
import type { SubresourceHandler } from "./handler.ts";

/** How long a node serving certificate is valid, in days; agents renew theirs when fewer than 30 remain. */
export const NODE_CERT_DAYS = 365;

/** Bodies are a few hundred bytes of PEM. */
const MAX_REQUEST_BYTES = 64 * 1024;

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The subject alternative names of a node's serving certificate: its name and addresses that can be names. */
export function nodeCertificateSans(node: Node): string[] {
  const out: string[] = [];
  const add = (value: string | undefined) => {
    const text = (value ?? "").trim().toLowerCase();
    if (text === "" || out.includes(text)) return;
    if (isIP(text) !== 0 || (DNS_NAME.test(text) && text.length <= 253 && !/^[0-9.]+$/.test(text))) out.push(text);
  };
  add(node.metadata.name);
  for (const address of node.status?.addresses ?? []) add(address.address);
  return out;
}

/** The `nodes/certificate` subresource handler, signing with `ca`. */
export function nodeCertificateHandler(ca: CertificateAuthority): SubresourceHandler {
  return async (req, { route, type, user, objects }) => {
    const name = route.name!;
    if (req.method !== "POST") {
      throw new BadRequestError(`nodes/certificate takes POST with a NodeCertificate, not ${req.method}`);
    }
    if (user.role === "node" && user.nodeName !== name) {
      throw new ForbiddenError(
        `nodes/certificate "${name}" is forbidden: User "${user.name}" may get a certificate only for its own Node "${user.nodeName}"`,
      );
    }
    const format = bodyFormat(mediaType(req.headers.get("content-type")), ["application/json"]);
    const body = decodeObject(await readBody(req, MAX_REQUEST_BYTES), format);
    if (body.kind !== "NodeCertificate") {
      throw new BadRequestError(`Invalid body: kind is ${JSON.stringify(body.kind)}, expected "NodeCertificate"`);
    }
    const request = (body.spec as { request?: unknown } | undefined)?.request;
    if (typeof request !== "string" || request === "") {
      throw new BadRequestError("Invalid body: spec.request is required: a PEM PKCS#10 certificate request");
    }
    const node = await objects.find(type, undefined, name) as Node | undefined;
    if (!node) {
      throw new NotFoundError(`nodes "${name}" not found: register the node before asking for its certificate`);
    }
    const sans = nodeCertificateSans(node);
    let signed: SignedCertificate;
    try {
      signed = await signCertificateRequest(ca, request, {
        commonName: name,
        sans,
        usages: "server",
        days: NODE_CERT_DAYS,
      });
    } catch (error) {
      if (error instanceof TypeError) throw new BadRequestError(error.message, { cause: error });
      throw error;
    }
    const answer: KubeObject = {
      apiVersion: "v1",
      kind: "NodeCertificate",
      metadata: { name },
      spec: { request },
      status: { certificate: signed.certPem, ca: ca.certPem, notAfter: signed.notAfter.toISOString() },
    };
    return new Response(JSON.stringify(answer), { status: 201, headers: { "content-type": "application/json" } });
  };
}
