/**
 * core/v1 Service and Endpoints, and discovery.k8s.io/v1 EndpointSlice,
 * with Kubernetes field names.
 *
 * @module
 */

import type { Condition, KubeObject } from "./meta.ts";
import type { ObjectReference } from "./types_core.ts";
import type { IntOrString, Protocol } from "./types_pod.ts";

/** `ClusterIP` (default), `NodePort`, `LoadBalancer` or `ExternalName`. */
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";

/** A port a Service exposes. */
export interface ServicePort {
  /** DNS label; required when the Service has more than one port. */
  name?: string;
  /** Defaults to TCP. */
  protocol?: Protocol;
  /** Application protocol hint, e.g. `http`. */
  appProtocol?: string;
  /** The Service's port (1-65535). */
  port: number;
  /** Pod port number or container port name; defaults to `port`. */
  targetPort?: IntOrString;
  /** Port on every node, for NodePort and LoadBalancer (30000-32767). */
  nodePort?: number;
}

/** Session affinity settings for `ClientIP`. */
export interface SessionAffinityConfig {
  /** Client-IP stickiness. */
  clientIP?: { timeoutSeconds?: number };
}

/** A Service's desired state. */
export interface ServiceSpec {
  /** The ports. */
  ports?: ServicePort[];
  /** Pods whose labels match receive the traffic. */
  selector?: Record<string, string>;
  /** Virtual IP, `None` for a headless Service, or empty to allocate one. */
  clusterIP?: string;
  /** Virtual IPs (first equals `clusterIP`). */
  clusterIPs?: string[];
  /** How the Service is exposed. */
  type?: ServiceType;
  /** Extra addresses nodes accept traffic on. */
  externalIPs?: string[];
  /** `None` (default) or `ClientIP`. */
  sessionAffinity?: "None" | "ClientIP";
  /** Requested load-balancer address. */
  loadBalancerIP?: string;
  /** Client ranges allowed through the load balancer. */
  loadBalancerSourceRanges?: string[];
  /** The DNS name an ExternalName Service aliases. */
  externalName?: string;
  /** `Cluster` (default) or `Local` for external traffic. */
  externalTrafficPolicy?: "Cluster" | "Local";
  /** Node port for load-balancer health checks with `Local`. */
  healthCheckNodePort?: number;
  /** Publish endpoints of pods that are not ready. */
  publishNotReadyAddresses?: boolean;
  /** Client-IP affinity settings. */
  sessionAffinityConfig?: SessionAffinityConfig;
  /** `IPv4` and/or `IPv6`. */
  ipFamilies?: ("IPv4" | "IPv6")[];
  /** `SingleStack`, `PreferDualStack` or `RequireDualStack`. */
  ipFamilyPolicy?: "SingleStack" | "PreferDualStack" | "RequireDualStack";
  /** Allocate node ports for LoadBalancer Services; defaults to true. */
  allocateLoadBalancerNodePorts?: boolean;
  /** Which load-balancer implementation serves this Service. */
  loadBalancerClass?: string;
  /** `Cluster` (default) or `Local` for traffic from inside the cluster. */
  internalTrafficPolicy?: "Cluster" | "Local";
}

/** One address a load balancer is reachable at. */
export interface LoadBalancerIngress {
  /** An IP address. */
  ip?: string;
  /** A host name. */
  hostname?: string;
  /** `VIP` or `Proxy`. */
  ipMode?: "VIP" | "Proxy";
  /** Ports and their status. */
  ports?: { port: number; protocol: Protocol; error?: string }[];
}

/** A Service's observed state. */
export interface ServiceStatus {
  /** The load balancer's addresses. */
  loadBalancer?: { ingress?: LoadBalancerIngress[] };
  /** Conditions of the Service. */
  conditions?: Condition[];
}

/** A stable address for a set of pods. */
export interface Service extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `Service`. */
  kind?: "Service";
  /** Desired state. */
  spec?: ServiceSpec;
  /** Observed state. */
  status?: ServiceStatus;
}

/** One address of an Endpoints subset. */
export interface EndpointAddress {
  /** The pod's IP. */
  ip: string;
  /** The pod's hostname. */
  hostname?: string;
  /** The node running the pod. */
  nodeName?: string;
  /** The pod. */
  targetRef?: ObjectReference;
}

/** One port of an Endpoints subset. */
export interface EndpointPort {
  /** Matches the Service port's name. */
  name?: string;
  /** The port number. */
  port: number;
  /** Defaults to TCP. */
  protocol?: Protocol;
  /** Application protocol hint. */
  appProtocol?: string;
}

/** Addresses that share the same ports. */
export interface EndpointSubset {
  /** Ready addresses. */
  addresses?: EndpointAddress[];
  /** Addresses not ready yet. */
  notReadyAddresses?: EndpointAddress[];
  /** The ports. */
  ports?: EndpointPort[];
}

/** The pods behind a Service (named like the Service). */
export interface Endpoints extends KubeObject {
  /** `v1`. */
  apiVersion?: "v1";
  /** `Endpoints`. */
  kind?: "Endpoints";
  /** The address sets. */
  subsets?: EndpointSubset[];
}

/** Readiness of one endpoint of a slice. */
export interface EndpointConditions {
  /** Ready to receive traffic. */
  ready?: boolean;
  /** Ready or terminating but still serving. */
  serving?: boolean;
  /** Being deleted. */
  terminating?: boolean;
}

/** One endpoint of an EndpointSlice. */
export interface Endpoint {
  /** Addresses (1-100) of the address type of the slice. */
  addresses: string[];
  /** Readiness. */
  conditions?: EndpointConditions;
  /** The pod's hostname. */
  hostname?: string;
  /** The pod. */
  targetRef?: ObjectReference;
  /** The node running the pod. */
  nodeName?: string;
  /** The zone of the node. */
  zone?: string;
  /** Topology hints. */
  hints?: { forZones?: { name: string }[] };
}

/** One port of an EndpointSlice. */
export interface EndpointSlicePort {
  /** Matches the Service port's name. */
  name?: string;
  /** Defaults to TCP. */
  protocol?: Protocol;
  /** The port number. */
  port?: number;
  /** Application protocol hint. */
  appProtocol?: string;
}

/** A slice of the endpoints of a Service (label `kubernetes.io/service-name`). */
export interface EndpointSlice extends KubeObject {
  /** `discovery.k8s.io/v1`. */
  apiVersion?: "discovery.k8s.io/v1";
  /** `EndpointSlice`. */
  kind?: "EndpointSlice";
  /** `IPv4`, `IPv6` or `FQDN`; immutable. */
  addressType: "IPv4" | "IPv6" | "FQDN";
  /** The endpoints (at most 1000). */
  endpoints: Endpoint[];
  /** The ports (at most 100). */
  ports?: EndpointSlicePort[];
}
