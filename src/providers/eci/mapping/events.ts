import { toDate, type GroupEvent } from './snapshot.ts';

/** An ECI event in the shape a Kubernetes Event is built from (the caller adds the involved object). */
export interface PodEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  readonly firstTimestamp?: Date;
  readonly lastTimestamp?: Date;
  /** ECI's `Name`: which part of the instance the event is about. */
  readonly source?: string;
  /**
   * Stable across polls while ECI aggregates the same event (it bumps Count and LastTimestamp), so a
   * caller can update one Kubernetes Event instead of emitting a new one per poll.
   */
  readonly key: string;
}

/** Kubernetes caps Event messages at 1 KiB; longer ECI messages are cut with a marker. */
export const EVENT_MESSAGE_MAX = 1024;

function clip(s: string): string {
  return s.length <= EVENT_MESSAGE_MAX ? s : `${s.slice(0, EVENT_MESSAGE_MAX - 3)}...`;
}

/**
 * ECI events (Type/Reason/Message/Count/FirstTimestamp/LastTimestamp/Name) as pod events, oldest
 * first. Anything but `Warning` is Normal; a missing reason becomes `EciEvent` (Kubernetes requires one).
 */
export function groupEventsToK8sEvents(events: readonly GroupEvent[] | undefined): PodEvent[] {
  const out = (events ?? []).map((e): PodEvent => {
    const first = toDate(e.firstTimestamp);
    const last = toDate(e.lastTimestamp) ?? first;
    const reason = e.reason || 'EciEvent';
    return {
      type: e.type === 'Warning' ? 'Warning' : 'Normal',
      reason,
      message: clip(e.message ?? ''),
      count: e.count && e.count > 0 ? e.count : 1,
      ...(first ? { firstTimestamp: first } : {}),
      ...(last ? { lastTimestamp: last } : {}),
      ...(e.name ? { source: e.name } : {}),
      key: `${reason}|${e.name ?? ''}|${e.firstTimestamp ?? ''}|${e.message ?? ''}`,
    };
  });
  return out.sort((a, b) => (a.lastTimestamp?.getTime() ?? 0) - (b.lastTimestamp?.getTime() ?? 0));
}

/** The events that happened (or recurred) after `since` — what a poller has not reported yet. */
export function eventsSince(events: readonly PodEvent[], since: Date | undefined): PodEvent[] {
  if (!since) return [...events];
  return events.filter((e) => (e.lastTimestamp?.getTime() ?? 0) > since.getTime());
}

/** The most recent Warning, for a pod's status message when ECI gives no better one. */
export function lastWarning(events: readonly GroupEvent[] | undefined): PodEvent | undefined {
  return groupEventsToK8sEvents(events)
    .filter((e) => e.type === 'Warning')
    .at(-1);
}
