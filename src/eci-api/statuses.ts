/**
 * ECI container-group statuses (DescribeContainerGroups reference), in lifecycle order. The controller
 * reads them and the emulator writes them; this list is the one both speak, so neither imports the
 * other. A status ECI adds later belongs here first.
 */
export const ECI_GROUP_STATUSES = [
  'Scheduling',
  'Pending',
  'Running',
  'Succeeded',
  'Failed',
  'Restarting',
  'Updating',
  'Terminating',
  'Expired',
  'ScheduleFailed',
] as const;
export type EciGroupStatus = (typeof ECI_GROUP_STATUSES)[number];
