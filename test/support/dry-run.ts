// Objects created exactly as given, with fieldValidation=Strict (as `kubectl create
// --validate=strict` sends them), and as server-side dry runs (dryRun=All). KubernetesObjectApi's
// own serializer rebuilds objects of the kinds it has models for from the fields those models
// know, silently dropping any other field — which hides precisely what a strict validation is
// for, and mangles CRDs (`x-kubernetes-int-or-string` is not the model's spelling) — so the body
// is put back as given, by a middleware.
import { createConfiguration, KubeConfig, KubernetesObjectApi, ServerConfiguration, type KubernetesObject, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

export interface ExactObjectClient {
  /**
   * Resolves with the object the API server stores (or would, with dryRun); rejects with its error
   * (e.g. 400 strict decoding error).
   */
  create(object: KubernetesObject, options: { dryRun: boolean }): Promise<KubernetesObject>;
}

export function exactObjectClient(kc: KubeConfig): ExactObjectClient {
  const server = new ServerConfiguration(kc.getCurrentCluster()!.server, {});
  /** An API whose middleware sends `body`: one per create, so no create sees another's body. */
  const apiSending = (body: string) =>
    new KubernetesObjectApi(
      createConfiguration({
        baseServer: server,
        authMethods: { default: kc },
        promiseMiddleware: [
          {
            async pre(context: RequestContext): Promise<RequestContext> {
              if (context.getHttpMethod() !== 'POST') return context; // discovery
              context.setQueryParam('fieldValidation', 'Strict');
              context.setBody(body);
              return context;
            },
            async post(context: ResponseContext): Promise<ResponseContext> {
              return context;
            },
          },
        ],
      }),
    );
  return {
    create(object, { dryRun }) {
      return apiSending(JSON.stringify(object)).create(object, undefined, dryRun ? 'All' : undefined, 'kubetrail-test');
    },
  };
}
