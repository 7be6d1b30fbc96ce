import type {
  CreateContainerGroupRequestContainer,
  CreateContainerGroupRequestContainerLivenessProbe,
} from '@alicloud/eci20180808';
import type { IntOrString, V1Container, V1LifecycleHandler, V1Probe } from '@kubernetes/client-node';
import { refuse, type BuildContext } from './build-context.ts';
import { RefusalReasons, type ModelInit } from './types.ts';

export type ProbeInit = ModelInit<CreateContainerGroupRequestContainerLivenessProbe>;
type ContainerInit = ModelInit<CreateContainerGroupRequestContainer>;

/** A numeric port, or a named one looked up in the container's ports; undefined when unknown. */
export function resolvePort(c: V1Container, port: IntOrString | undefined): number | undefined {
  if (port === undefined) return undefined;
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function port(c: V1Container, p: IntOrString, field: string): number {
  const n = resolvePort(c, p);
  if (n === undefined) {
    refuse(
      field,
      RefusalReasons.PORT_NAME,
      `port "${String(p)}" is not a port name of container ${c.name}; name it in ports or use a number`,
    );
  }
  return n;
}

/**
 * A liveness/readiness probe in ECI's shape. ECI probes have no HTTP host or headers and no gRPC
 * action (validatePod refuses gRPC); headers are dropped with a warning because most health endpoints
 * ignore them, while a silently wrong gRPC probe would restart healthy containers.
 */
export function mapProbe(b: BuildContext, c: V1Container, p: V1Probe, field: string): ProbeInit {
  const out: ProbeInit = {
    initialDelaySeconds: p.initialDelaySeconds,
    periodSeconds: p.periodSeconds,
    timeoutSeconds: p.timeoutSeconds,
    successThreshold: p.successThreshold,
    failureThreshold: p.failureThreshold,
  };
  if (p.exec) out.exec = { command: p.exec.command ?? [] };
  else if (p.httpGet) {
    out.httpGet = {
      path: p.httpGet.path,
      port: port(c, p.httpGet.port, `${field}.httpGet.port`),
      scheme: p.httpGet.scheme,
    };
    if (p.httpGet.host || (p.httpGet.httpHeaders?.length ?? 0) > 0) {
      b.warnings.push(`${field}.httpGet: ECI probes send no custom host or headers; they were dropped`);
    }
  } else if (p.tcpSocket) {
    out.tcpSocket = { port: port(c, p.tcpSocket.port, `${field}.tcpSocket.port`) };
  } else if (p.grpc) {
    refuse(
      `${field}.grpc`,
      RefusalReasons.PROBE,
      'ECI has no gRPC probe; use an exec probe running grpc_health_probe',
    );
  }
  return out;
}

/** The longest a startup probe may keep a container "starting" before it counts as failed. */
function startupWindow(p: V1Probe): number {
  return (p.initialDelaySeconds ?? 0) + (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3);
}

/**
 * Probes for an app container. ECI (API 2018-08-08 as the SDK models it) has no startup probe. Its job
 * is to hold liveness off until a slow starter is up, so the liveness probe's initial delay is raised
 * to the startup probe's worst-case window: a slow start is never killed, at the price of detecting a
 * hang after startup later. Readiness is left alone (delaying it would delay traffic for everyone).
 */
export function containerProbes(b: BuildContext, c: V1Container, path: string): Partial<ContainerInit> {
  const out: Partial<ContainerInit> = {};
  if (c.livenessProbe) {
    const live = mapProbe(b, c, c.livenessProbe, `${path}.livenessProbe`);
    if (c.startupProbe) {
      live.initialDelaySeconds = Math.max(live.initialDelaySeconds ?? 0, startupWindow(c.startupProbe));
      b.warnings.push(
        `${path}.startupProbe: ECI has no startup probe; liveness starts after ${live.initialDelaySeconds}s instead`,
      );
    }
    out.livenessProbe = live;
  } else if (c.startupProbe) {
    b.warnings.push(
      `${path}.startupProbe: ECI has no startup probe and no liveness probe depends on it; dropped`,
    );
  }
  if (c.readinessProbe) out.readinessProbe = mapProbe(b, c, c.readinessProbe, `${path}.readinessProbe`);
  return out;
}

interface Hook {
  exec?: string[];
  httpGet?: {
    host?: string;
    path?: string;
    port: number;
    scheme?: string;
    headers?: { name: string; value: string }[];
  };
  tcpSocket?: { host?: string; port: number };
}

function mapHook(b: BuildContext, c: V1Container, h: V1LifecycleHandler, field: string): Hook {
  if (h.exec) return { exec: h.exec.command ?? [] };
  if (h.sleep) {
    b.warnings.push(
      `${field}.sleep: ECI has no sleep hook; runs "sleep ${h.sleep.seconds}" in the container`,
    );
    return { exec: ['sleep', String(h.sleep.seconds)] };
  }
  if (h.httpGet) {
    const headers = h.httpGet.httpHeaders?.map((x) => ({ name: x.name, value: x.value }));
    return {
      httpGet: {
        host: h.httpGet.host,
        path: h.httpGet.path,
        port: port(c, h.httpGet.port, `${field}.httpGet.port`),
        scheme: h.httpGet.scheme,
        ...(headers?.length ? { headers } : {}),
      },
    };
  }
  if (h.tcpSocket) {
    return {
      tcpSocket: { host: h.tcpSocket.host, port: port(c, h.tcpSocket.port, `${field}.tcpSocket.port`) },
    };
  }
  return {};
}

/**
 * postStart/preStop hooks in ECI's flattened fields. A `sleep` action (Kubernetes 1.29+) becomes
 * `exec sleep N`, which needs a `sleep` binary in the image; a warning says so.
 */
export function containerLifecycle(b: BuildContext, c: V1Container, path: string): Partial<ContainerInit> {
  const out: Partial<ContainerInit> = {};
  const post = c.lifecycle?.postStart;
  if (post) {
    const h = mapHook(b, c, post, `${path}.lifecycle.postStart`);
    out.lifecyclePostStartHandlerExec = h.exec;
    out.lifecyclePostStartHandlerHttpGetHost = h.httpGet?.host;
    out.lifecyclePostStartHandlerHttpGetPath = h.httpGet?.path;
    out.lifecyclePostStartHandlerHttpGetPort = h.httpGet?.port;
    out.lifecyclePostStartHandlerHttpGetScheme = h.httpGet?.scheme;
    out.lifecyclePostStartHandlerHttpGetHttpHeader = h.httpGet?.headers;
    out.lifecyclePostStartHandlerTcpSocketHost = h.tcpSocket?.host;
    out.lifecyclePostStartHandlerTcpSocketPort = h.tcpSocket?.port;
  }
  const pre = c.lifecycle?.preStop;
  if (pre) {
    const h = mapHook(b, c, pre, `${path}.lifecycle.preStop`);
    out.lifecyclePreStopHandlerExec = h.exec;
    out.lifecyclePreStopHandlerHttpGetHost = h.httpGet?.host;
    out.lifecyclePreStopHandlerHttpGetPath = h.httpGet?.path;
    out.lifecyclePreStopHandlerHttpGetPort = h.httpGet?.port;
    out.lifecyclePreStopHandlerHttpGetScheme = h.httpGet?.scheme;
    out.lifecyclePreStopHandlerHttpGetHttpHeader = h.httpGet?.headers;
    out.lifecyclePreStopHandlerTcpSocketHost = h.tcpSocket?.host;
    out.lifecyclePreStopHandlerTcpSocketPort = h.tcpSocket?.port;
  }
  return dropUndefined(out);
}

/** Leaves out unset keys so requests (and test expectations) carry only what the pod set. */
export function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
