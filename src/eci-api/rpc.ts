import * as $OpenApi from '@alicloud/openapi-client';

/** The ECI OpenAPI version every request names (`x-acs-version`). */
export const ECI_API_VERSION = '2018-08-08';

/**
 * The SDK's request description of an ECI RPC action, for its generic `callApi` (the template actions
 * have no typed method in `@alicloud/eci20180808` 2.x): flat parameters in the query, signed with an
 * AccessKey, answered as JSON.
 */
export function rpcParams(action: string, opts: { protocol: string; version?: string }): $OpenApi.Params {
  return new $OpenApi.Params({
    action,
    version: opts.version ?? ECI_API_VERSION,
    protocol: opts.protocol,
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
}
