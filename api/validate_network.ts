/**
 * Validation of Services, Endpoints and EndpointSlices. Never throws.
 *
 * @module
 */

import { CIDR_MESSAGE, IP_MESSAGE, isCIDR, isIP, isIPv4, isIPv6, specialIPError } from "./_ip.ts";
import { at, Check, child, isObj, type Obj, PROTOCOLS } from "./_validation.ts";
import { NODE_PORT_MAX, NODE_PORT_MIN } from "./constants.ts";
import type { FieldError } from "./errors.ts";
import { dns1123LabelErrors, dns1123SubdomainErrors } from "./names.ts";
import { validateLabels } from "./validate_meta.ts";

const SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

function checkServicePorts(c: Check, spec: Obj, type: string): void {
  const ports = c.objects(spec.ports, "spec.ports");
  const names = new Set<string>();
  const pairs = new Set<string>();
  const nodePorts = new Set<string>();
  for (const [port, p] of ports) {
    const name = c.str(port.name, child(p, "name"));
    if (!name) {
      if (ports.length > 1 && (port.name == null || port.name === "")) c.required(child(p, "name"));
    } else {
      if (c.name(name, child(p, "name"), dns1123LabelErrors) && names.has(name)) {
        c.duplicate(child(p, "name"), name);
      }
      names.add(name);
    }
    const number = c.port(port.port, child(p, "port"), true);
    const protocol = c.oneOf(port.protocol, child(p, "protocol"), PROTOCOLS) ?? "TCP";
    if (port.targetPort !== 0) c.portNumOrName(port.targetPort, child(p, "targetPort"));
    c.str(port.appProtocol, child(p, "appProtocol"));
    if (number !== undefined) {
      const pair = `${number}/${protocol}`;
      if (pairs.has(pair)) c.duplicate(p, pair);
      pairs.add(pair);
    }
    const nodePort = c.int(port.nodePort, child(p, "nodePort"));
    if (nodePort) {
      if (type === "ClusterIP" || type === "ExternalName") {
        c.forbidden(child(p, "nodePort"), `may not be used when \`type\` is '${type}'`);
      } else if (nodePort < NODE_PORT_MIN || nodePort > NODE_PORT_MAX) {
        c.invalid(
          child(p, "nodePort"),
          nodePort,
          `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
        );
      } else {
        const key = `${nodePort}/${protocol}`;
        if (nodePorts.has(key)) c.duplicate(child(p, "nodePort"), key);
        nodePorts.add(key);
      }
    }
  }
}

/**
 * Checks a Service: type, ports (names required when more than one, unique
 * port/protocol pairs, NodePort range 30000-32767), cluster IPs, external
 * name, session affinity and traffic policies; on update, a cluster IP
 * cannot change (unless the type moves to or from ExternalName).
 */
export function validateService(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const svc = c.root(obj);
  if (!svc) return c.errors;
  if (svc.spec != null && !isObj(svc.spec)) {
    c.wrongType("spec", svc.spec, "an object");
    return c.errors;
  }
  const spec: Obj = isObj(svc.spec) ? svc.spec : {};
  const type = c.oneOf(spec.type, "spec.type", SERVICE_TYPES) ?? "ClusterIP";
  const clusterIP = c.str(spec.clusterIP, "spec.clusterIP") ?? "";
  const clusterIPs = c.strList(spec.clusterIPs, "spec.clusterIPs") ?? [];
  const headless = clusterIP === "None";
  const hasPorts = Array.isArray(spec.ports) && spec.ports.length > 0;
  if (!hasPorts && !headless && type !== "ExternalName" && (spec.ports == null || Array.isArray(spec.ports))) {
    c.required("spec.ports");
  }
  checkServicePorts(c, spec, type);
  if (type === "ExternalName") {
    const name = c.requiredStr(spec.externalName, "spec.externalName");
    if (name) c.name(name.replace(/\.$/, ""), "spec.externalName", dns1123SubdomainErrors);
    if (clusterIP && !headless) {
      c.forbidden("spec.clusterIP", "may not be set for ExternalName services");
    }
  } else {
    c.str(spec.externalName, "spec.externalName");
  }
  if (clusterIP && !headless && !isIP(clusterIP)) {
    c.invalid("spec.clusterIP", clusterIP, `must be empty, 'None', or a valid IP address`);
  }
  clusterIPs.forEach((ip, i) => {
    if (ip !== "None" && !isIP(ip)) c.invalid(at("spec.clusterIPs", i), ip, IP_MESSAGE);
  });
  if (clusterIPs.length > 0 && clusterIP && clusterIPs[0] !== clusterIP) {
    c.invalid(at("spec.clusterIPs", 0), clusterIPs[0], "must be equal to clusterIP");
  }
  if (headless && (type === "NodePort" || type === "LoadBalancer")) {
    c.invalid("spec.clusterIP", clusterIP, `may not be set to 'None' for ${type} services`);
  }
  c.add(validateLabels(spec.selector, "spec.selector"));
  const affinity = c.oneOf(spec.sessionAffinity, "spec.sessionAffinity", ["ClientIP", "None"]);
  const affinityConfig = c.obj(spec.sessionAffinityConfig, "spec.sessionAffinityConfig");
  const clientIP = c.obj(affinityConfig?.clientIP, "spec.sessionAffinityConfig.clientIP");
  const timeout = c.int(clientIP?.timeoutSeconds, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", {
    min: 1,
    max: 86400,
    message: "must be greater than 0 and less than 86400",
  });
  if (affinity === "None" && timeout !== undefined) {
    c.invalid("spec.sessionAffinityConfig", affinityConfig, "must not be set when session affinity is None");
  }
  const external = type === "NodePort" || type === "LoadBalancer";
  const etp = c.oneOf(spec.externalTrafficPolicy, "spec.externalTrafficPolicy", ["Cluster", "Local"]);
  const externalIPs = c.strList(spec.externalIPs, "spec.externalIPs") ?? [];
  if (etp && !external && externalIPs.length === 0) {
    c.invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services");
  }
  c.oneOf(spec.internalTrafficPolicy, "spec.internalTrafficPolicy", ["Cluster", "Local"]);
  externalIPs.forEach((ip, i) => {
    if (!isIP(ip)) c.invalid(at("spec.externalIPs", i), ip, IP_MESSAGE);
  });
  c.ip(spec.loadBalancerIP, "spec.loadBalancerIP");
  (c.strList(spec.loadBalancerSourceRanges, "spec.loadBalancerSourceRanges") ?? []).forEach((r, i) => {
    if (!isCIDR(r)) c.invalid(at("spec.loadBalancerSourceRanges", i), r, CIDR_MESSAGE);
  });
  c.port(spec.healthCheckNodePort, "spec.healthCheckNodePort");
  c.bool(spec.publishNotReadyAddresses, "spec.publishNotReadyAddresses");
  c.bool(spec.allocateLoadBalancerNodePorts, "spec.allocateLoadBalancerNodePorts");
  c.str(spec.loadBalancerClass, "spec.loadBalancerClass");
  c.oneOf(spec.ipFamilyPolicy, "spec.ipFamilyPolicy", ["PreferDualStack", "RequireDualStack", "SingleStack"]);
  for (const family of c.strList(spec.ipFamilies, "spec.ipFamilies") ?? []) {
    if (family !== "IPv4" && family !== "IPv6") c.notSupported("spec.ipFamilies", family, ["IPv4", "IPv6"]);
  }
  const status = c.obj(svc.status, "status");
  const lb = c.obj(status?.loadBalancer, "status.loadBalancer");
  for (const [ingress, p] of c.objects(lb?.ingress, "status.loadBalancer.ingress")) {
    c.ip(ingress.ip, child(p, "ip"));
    const hostname = c.str(ingress.hostname, child(p, "hostname"));
    if (hostname) c.name(hostname, child(p, "hostname"), dns1123SubdomainErrors);
    c.oneOf(ingress.ipMode, child(p, "ipMode"), ["Proxy", "VIP"]);
  }
  if (isObj(old) && isObj(old.spec)) {
    const before = old.spec;
    const typeChange = before.type === "ExternalName" || type === "ExternalName";
    if (!typeChange && before.clusterIP && (spec.clusterIP ?? "") !== "" && before.clusterIP !== spec.clusterIP) {
      c.invalid("spec.clusterIP", spec.clusterIP, "field is immutable");
    }
  }
  return c.errors;
}

function checkEndpointPorts(c: Check, value: unknown, path: string, allowNoPort: boolean): void {
  const ports = c.objects(value, path);
  const names = new Set<string>();
  for (const [port, p] of ports) {
    const name = c.str(port.name, child(p, "name"));
    if (!name && ports.length > 1 && !allowNoPort) c.required(child(p, "name"));
    if (name) {
      if (c.name(name, child(p, "name"), dns1123LabelErrors) && names.has(name)) {
        c.duplicate(child(p, "name"), name);
      }
      names.add(name);
    }
    c.port(port.port, child(p, "port"), !allowNoPort);
    c.oneOf(port.protocol, child(p, "protocol"), PROTOCOLS);
    c.str(port.appProtocol, child(p, "appProtocol"));
  }
}

function checkTargetRef(c: Check, value: unknown, path: string): void {
  const ref = c.obj(value, path);
  for (const f of ["apiVersion", "kind", "namespace", "name", "uid", "resourceVersion", "fieldPath"]) {
    c.str(ref?.[f], child(path, f));
  }
}

/** Checks an Endpoints object: endpoint IPs (not loopback or link-local), hostnames, ports. */
export function validateEndpoints(obj: unknown): FieldError[] {
  const c = new Check();
  const ep = c.root(obj);
  if (!ep) return c.errors;
  for (const [subset, sp] of c.objects(ep.subsets, "subsets")) {
    for (const field of ["addresses", "notReadyAddresses"]) {
      for (const [address, ap] of c.objects(subset[field], child(sp, field))) {
        const ip = c.requiredStr(address.ip, child(ap, "ip"));
        if (ip && !isIP(ip)) c.invalid(child(ap, "ip"), ip, IP_MESSAGE);
        else if (ip) {
          const special = specialIPError(ip);
          if (special) c.invalid(child(ap, "ip"), ip, special);
        }
        const hostname = c.str(address.hostname, child(ap, "hostname"));
        if (hostname) c.name(hostname, child(ap, "hostname"), dns1123LabelErrors);
        const nodeName = c.str(address.nodeName, child(ap, "nodeName"));
        if (nodeName) c.name(nodeName, child(ap, "nodeName"), dns1123SubdomainErrors);
        checkTargetRef(c, address.targetRef, child(ap, "targetRef"));
      }
    }
    checkEndpointPorts(c, subset.ports, child(sp, "ports"), false);
  }
  return c.errors;
}

const ADDRESS_CHECKS: Readonly<Record<string, [(s: string) => boolean, string]>> = {
  IPv4: [isIPv4, "must be a valid IPv4 address"],
  IPv6: [isIPv6, "must be a valid IPv6 address"],
  FQDN: [(s) => dns1123SubdomainErrors(s).length === 0, "must be a valid DNS subdomain"],
};

/**
 * Checks an EndpointSlice: address type, 1-100 addresses per endpoint of
 * that type, at most 1000 endpoints and 100 ports; on update, addressType
 * cannot change.
 */
export function validateEndpointSlice(obj: unknown, old?: unknown): FieldError[] {
  const c = new Check();
  const slice = c.root(obj);
  if (!slice) return c.errors;
  if (slice.addressType == null || slice.addressType === "") c.required("addressType");
  const type = c.oneOf(slice.addressType, "addressType", ["FQDN", "IPv4", "IPv6"]);
  const endpoints = c.objects(slice.endpoints, "endpoints");
  if (endpoints.length > 1000) c.tooMany("endpoints", endpoints.length, 1000);
  for (const [endpoint, p] of endpoints) {
    const addresses = c.strList(endpoint.addresses, child(p, "addresses")) ?? [];
    if (addresses.length === 0) c.required(child(p, "addresses"), "must contain at least 1 address");
    if (addresses.length > 100) c.tooMany(child(p, "addresses"), addresses.length, 100);
    const check = type ? ADDRESS_CHECKS[type] : undefined;
    addresses.forEach((a, i) => {
      if (check && !check[0](a)) c.invalid(at(child(p, "addresses"), i), a, check[1]);
    });
    const conditions = c.obj(endpoint.conditions, child(p, "conditions"));
    for (const f of ["ready", "serving", "terminating"]) c.bool(conditions?.[f], child(child(p, "conditions"), f));
    const hostname = c.str(endpoint.hostname, child(p, "hostname"));
    if (hostname) c.name(hostname, child(p, "hostname"), dns1123LabelErrors);
    const nodeName = c.str(endpoint.nodeName, child(p, "nodeName"));
    if (nodeName) c.name(nodeName, child(p, "nodeName"), dns1123SubdomainErrors);
    c.str(endpoint.zone, child(p, "zone"));
    checkTargetRef(c, endpoint.targetRef, child(p, "targetRef"));
  }
  if (Array.isArray(slice.ports) && slice.ports.length > 100) c.tooMany("ports", slice.ports.length, 100);
  checkEndpointPorts(c, slice.ports, "ports", true);
  if (isObj(old) && old.addressType !== undefined && old.addressType !== slice.addressType) {
    c.invalid("addressType", slice.addressType ?? null, "field is immutable");
  }
  return c.errors;
}
