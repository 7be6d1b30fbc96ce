/**
 * Per-account, per-action calls per minute of the ECI OpenAPI (the documented defaults), and with them
 * the names of the actions the product calls. The client spreads its calls to stay under them; the
 * emulator throttles at them.
 */
export const DEFAULT_QUOTAS_PER_MINUTE = {
  CreateContainerGroup: 1000,
  DeleteContainerGroup: 1000,
  DescribeContainerGroups: 2000,
  DescribeContainerGroupStatus: 2000,
  DescribeContainerGroupEvents: 2000,
  UpdateContainerGroup: 500,
  RestartContainerGroup: 500,
  DescribeContainerLog: 500,
  ExecContainerCommand: 500,
  DescribeContainerGroupMetric: 2000,
  DescribeMultiContainerGroupMetric: 500,
  CreateImageCache: 200,
  DescribeImageCaches: 2000,
  DeleteImageCache: 200,
  ExportContainerGroupTemplate: 2000,
  CreateContainerGroupFromTemplate: 1000,
  UpdateContainerGroupByTemplate: 500,
} as const;

export type EciAction = keyof typeof DEFAULT_QUOTAS_PER_MINUTE;
