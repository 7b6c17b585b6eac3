// Objects created exactly as given, with fieldValidation=Strict (as `kubectl create
// --validate=strict` sends them), and as server-side dry runs (dryRun=All). KubernetesObjectApi's
// own serializer rebuilds objects of the kinds it has models for from the fields those models
// know, silently dropping any other field — which hides precisely what a strict validation is
// for, and mangles CRDs (`x-kubernetes-int-or-string` is not the model's spelling) — so the body
// is put back as given, by a middleware.
import { createConfiguration, KubeConfig, KubernetesObjectApi, ServerConfiguration, type KubernetesObject, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { SerialQueue } from '../../lib/async.js';

export interface ExactObjectClient {
  /**
   * Resolves with the object the API server stores (or would, with dryRun); rejects with its error
   * (e.g. 400 strict decoding error).
   */
  create(object: KubernetesObject, options: { dryRun: boolean }): Promise<KubernetesObject>;
}

export function exactObjectClient(kc: KubeConfig): ExactObjectClient {
  let body: string | undefined;
  const strict = {
    async pre(context: RequestContext): Promise<RequestContext> {
      if (context.getHttpMethod() !== 'POST') return context; // discovery
      context.setQueryParam('fieldValidation', 'Strict');
      if (body !== undefined) context.setBody(body);
      return context;
    },
    async post(context: ResponseContext): Promise<ResponseContext> {
      return context;
    },
  };
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(kc.getCurrentCluster()!.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [strict],
  });
  const api = new KubernetesObjectApi(configuration);
  // One create at a time: `body` belongs to the one in flight.
  const queue = new SerialQueue();
  return {
    create(object, { dryRun }) {
      return queue.run(async () => {
        body = JSON.stringify(object);
        try {
          return await api.create(object, undefined, dryRun ? 'All' : undefined, 'kubetrail-test');
        } finally {
          body = undefined;
        }
      });
    },
  };
}
