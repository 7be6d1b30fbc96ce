/**
 * The catalogue of errors the emulator answers with, in the cloud's words. Codes, HTTP statuses and
 * messages follow the Alibaba Cloud OpenAPI gateway (signature, throttling, parameter errors) and the
 * ECI / ECS / VPC API references (resource errors), so a client's error handling is exercised by the
 * same strings it meets in production. Every answer carries a RequestId.
 */
export class CloudError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'CloudError';
    this.code = code;
    this.status = status;
  }
}

export const cloudErrors = {
  // --- gateway: routing ---
  actionNotFound: () =>
    new CloudError(
      404,
      'InvalidAction.NotFound',
      'Specified api is not found, please check your url and method.',
    ),
  invalidVersion: (version: string) =>
    new CloudError(400, 'InvalidVersion', `Specified parameter Version is not valid. Version: ${version}`),

  // --- gateway: request size and framing ---
  requestHeaderTooLarge: (limit: number) =>
    new CloudError(
      431,
      'RequestHeaderFieldsTooLarge',
      `The request line and headers exceed ${limit} bytes; the SDK sends RPC parameters in the URL, so the request has too many or too long parameters.`,
    ),
  requestBodyTooLarge: (limit: number) =>
    new CloudError(413, 'RequestEntityTooLarge', `The request body exceeds ${limit} bytes.`),
  malformedRequest: () => new CloudError(400, 'MalformedRequest', 'The HTTP request could not be parsed.'),

  // --- gateway: authentication ---
  incompleteSignature: (detail: string) =>
    new CloudError(
      400,
      'IncompleteSignature',
      `The request signature does not conform to Aliyun standards. ${detail}`,
    ),
  accessKeyNotFound: () =>
    new CloudError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.'),
  signatureMismatch: (stringToSign: string) =>
    new CloudError(
      400,
      'SignatureDoesNotMatch',
      `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`,
    ),
  timestampExpired: (value: string) =>
    new CloudError(
      400,
      'InvalidTimeStamp.Expired',
      `Specified time stamp or date value is expired. ${value}`,
    ),
  timestampFormat: (value: string) =>
    new CloudError(
      400,
      'InvalidTimeStamp.Format',
      `Specified time stamp or date value is not well formatted. ${value}`,
    ),
  nonceUsed: () => new CloudError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.'),
  signatureMethod: (value: string) =>
    new CloudError(400, 'InvalidSignatureMethod', `Specified signature method is not supported: ${value}`),

  // --- gateway: flow control and availability ---
  throttlingUser: () =>
    new CloudError(400, 'Throttling.User', 'Request was denied due to user flow control.'),
  throttling: () => new CloudError(400, 'Throttling', 'Request was denied due to request throttling.'),
  serviceUnavailable: () =>
    new CloudError(
      503,
      'ServiceUnavailable',
      'The request has failed due to a temporary failure of the server.',
    ),
  internalError: () =>
    new CloudError(
      500,
      'InternalError',
      'The request processing has failed due to some unknown error, exception or failure.',
    ),

  // --- parameters ---
  missingParameter: (name: string) =>
    new CloudError(
      400,
      'MissingParameter',
      `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
    ),
  invalidParameter: (name: string, why?: string) =>
    new CloudError(
      400,
      'InvalidParameter',
      `The specified parameter "${name}" is not valid.${why === undefined ? '' : ` ${why}`}`,
    ),
  valueExceeded: (name: string, why: string) =>
    new CloudError(
      400,
      'InvalidParameter.ValueExceeded',
      `The specified parameter "${name}" is too large. ${why}`,
    ),
  idempotentMismatch: () =>
    new CloudError(
      400,
      'IdempotentParameterMismatch',
      'Request uses a client token in a previous request but is not identical to that request.',
    ),
  dryRun: () =>
    new CloudError(400, 'DryRunOperation', 'Request validation has been passed with DryRun flag set.'),

  // --- resources ---
  regionNotFound: (region: string) =>
    new CloudError(
      404,
      'InvalidRegionId.NotFound',
      `The specified region does not exist. RegionId: ${region}`,
    ),
  zoneNotFound: (zone: string) =>
    new CloudError(404, 'InvalidZoneId.NotFound', `The specified zone does not exist. ZoneId: ${zone}`),
  vSwitchNotFound: (id: string) =>
    new CloudError(
      404,
      'InvalidVSwitchId.NotFound',
      `The specified VSwitchId does not exist. VSwitchId: ${id}`,
    ),
  vSwitchIpNotEnough: (id: string) =>
    new CloudError(
      400,
      'InvalidVSwitchId.IpNotEnough',
      `The specified VSwitch has not enough IP address. VSwitchId: ${id}`,
    ),
  securityGroupNotFound: (id: string) =>
    new CloudError(
      404,
      'InvalidSecurityGroupId.NotFound',
      `The specified SecurityGroupId does not exist. SecurityGroupId: ${id}`,
    ),
  securityGroupVpcMismatch: (sg: string, vsw: string) =>
    new CloudError(
      400,
      'InvalidParameter.Mismatch',
      `Specified security group and vswitch are not in the same vpc. SecurityGroupId: ${sg}, VSwitchId: ${vsw}`,
    ),
  zoneVSwitchMismatch: (zone: string, vsw: string) =>
    new CloudError(
      400,
      'InvalidParameter.Mismatch',
      `The specified ZoneId does not match the zone of the vswitch. ZoneId: ${zone}, VSwitchId: ${vsw}`,
    ),
  containerGroupNotFound: (id: string) =>
    new CloudError(
      404,
      'InvalidContainerGroupId.NotFound',
      `The specified ContainerGroupId does not exist. ContainerGroupId: ${id}`,
    ),
  containerNotFound: (group: string, name: string) =>
    new CloudError(
      404,
      'InvalidContainerName.NotFound',
      `The specified container does not exist in the container group. ContainerGroupId: ${group}, ContainerName: ${name}`,
    ),
  incorrectStatus: (what: string) => new CloudError(400, 'IncorrectStatus', what),
  imageCacheNotFound: (id: string) =>
    new CloudError(
      404,
      'InvalidImageCacheId.NotFound',
      `The specified ImageCacheId does not exist. ImageCacheId: ${id}`,
    ),
  eipNotFound: (id: string) =>
    new CloudError(
      404,
      'InvalidEipInstanceId.NotFound',
      `The specified EIP does not exist. EipInstanceId: ${id}`,
    ),
  privateIpInvalid: (ip: string, vsw: string) =>
    new CloudError(
      400,
      'InvalidPrivateIpAddress',
      `The specified PrivateIpAddress is not in the CIDR of the vswitch or is in use. PrivateIpAddress: ${ip}, VSwitchId: ${vsw}`,
    ),
} satisfies Record<string, (...args: never[]) => CloudError>;
