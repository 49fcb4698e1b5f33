/**
 * Skiff's certificates: the cluster CA, the API server's serving
 * certificate kept on disk, node certificates, and the CA hash that join
 * tokens carry. ECDSA P-256 through WebCrypto and `@peculiar/x509`.
 *
 * @module
 */

export * from "./ca_hash.ts";
export * from "./certificate_authority.ts";
export * from "./ensure_pki.ts";
export * from "./issue_certificate.ts";
export * from "./sign_certificate_request.ts";
