/**
 * Pure mapping between Kubernetes Pods and ECI container groups. No I/O: the caller fetches referenced
 * objects (`requiredRefs`), sends the requests, and feeds describe results back in.
 *
 *   const need = missingRefs(pod, refs);            // fetch these, then:
 *   const r = podToCreateRequest(pod, { ...cfg, refs });
 *   if (r.ok) eci.createContainerGroup(r.request);  // r.warnings → Events
 *   else if ('refusal' in r) failPod(r.refusal);    // permanent
 *   else retryLater(r.missing);                     // objects not there yet
 *
 *   patchStatus(groupToPodStatus(pod, group, clock.now(), { hostIP }));
 *   emit(groupEventsToK8sEvents(group.events));
 *   const upd = podUpdateToRequest(oldPod, newPod, group);
 */
export {
  ECI_ANNOTATIONS,
  parseEciAnnotations,
  type EciOptions,
  type ScheduleStrategy,
} from './annotations.ts';
export { eventsSince, groupEventsToK8sEvents, lastWarning, type PodEvent } from './events.ts';
export {
  groupToPodStatus,
  phaseFor,
  POD_REASONS,
  qosClass,
  type GroupInput,
  type PodPhase,
  type StatusOptions,
} from './group-to-status.ts';
export { containerGroupName, containerIdFor, parseContainerId, CONTAINER_GROUP_NAME_MAX } from './names.ts';
export { podToCreateRequest, type CreateContext, type CreateResult } from './pod-to-group.ts';
export {
  missingRefs,
  NO_REFS,
  requiredRefs,
  tokenKey,
  type MissingRef,
  type RefNeed,
  type ResolvedRefs,
} from './refs.ts';
export {
  ECI_GROUP_STATUSES,
  snapshotFromDescribe,
  snapshotFromStatus,
  toSnapshot,
  type ContainerSnapshot,
  type EciGroupStatus,
  type GroupSnapshot,
} from './snapshot.ts';
export { identityFromTags, identityTags, podIdentity, TAG_KEYS, tagValue, type PodIdentity } from './tags.ts';
export { RefusalReasons, type Refusal, type RefusalReason } from './types.ts';
export { diffPodUpdate, podUpdateToRequest, type PodUpdatePlan, type UpdateTarget } from './update.ts';
export { MAX_CONTAINERS, MAX_VOLUMES, RULES, validatePod, type Rule } from './validate.ts';
