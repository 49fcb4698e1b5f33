/**
 * `@peculiar/x509` with the Reflect metadata polyfill it needs loaded first.
 * Every file of this folder imports x509 through here, never directly.
 *
 * @module
 */

import "reflect-metadata";

export * from "@peculiar/x509";
