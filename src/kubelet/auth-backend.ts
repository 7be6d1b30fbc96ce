import { AuthenticationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import type { KubeClients } from '../kube/client.ts';
import type { AuthBackend, NodeAccess, UserInfo } from './auth.ts';

/**
 * TokenReview and SubjectAccessReview against the API server (the controller's ServiceAccount needs
 * `system:auth-delegator`, as deploy/00-rbac.yaml grants). Failures to ask throw; the caller answers
 * 401/500 and does not cache them.
 */
export function apiServerAuthBackend(kube: KubeClients, nodeName: string): AuthBackend {
  const authn = kube.api(AuthenticationV1Api);
  const authz = kube.api(AuthorizationV1Api);
  return {
    async reviewToken(token: string): Promise<UserInfo | undefined> {
      const r = await authn.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
      const u = r.status?.user;
      if (!r.status?.authenticated || !u?.username) return undefined;
      return { name: u.username, uid: u.uid, groups: u.groups ?? [], extra: u.extra };
    },
    async review(user: UserInfo, access: NodeAccess): Promise<boolean> {
      const r = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.name,
            uid: user.uid,
            groups: [...user.groups],
            extra: user.extra
              ? Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]]))
              : undefined,
            resourceAttributes: {
              verb: access.verb,
              group: '',
              version: 'v1',
              resource: 'nodes',
              subresource: access.subresource,
              name: nodeName,
            },
          },
        },
      });
      return r.status?.allowed === true && r.status.denied !== true;
    },
  };
}
