package main

import (
	"fmt"
	"time"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/serviceaccount"
)

// addServiceAccountsController runs kube-controller-manager's ServiceAccounts controller inside the
// server (there is no controller manager here): it creates the `default` ServiceAccount in every
// namespace, without which the ServiceAccount admission plugin refuses every Pod. No other
// controller runs: Jobs start no Pods, deleted namespaces stay Terminating, Pods stay Pending.
func addServiceAccountsController(server *genericapiserver.GenericAPIServer) error {
	return server.AddPostStartHook("kubetrail-serviceaccounts-controller", func(hook genericapiserver.PostStartHookContext) error {
		client, err := kubernetes.NewForConfig(hook.LoopbackClientConfig)
		if err != nil {
			return fmt.Errorf("serviceaccounts controller client: %w", err)
		}
		factory := informers.NewSharedInformerFactory(client, 12*time.Hour)
		controller, err := serviceaccount.NewServiceAccountsController(klog.Background(),
			factory.Core().V1().ServiceAccounts(), factory.Core().V1().Namespaces(), client,
			serviceaccount.DefaultServiceAccountsControllerOptions())
		if err != nil {
			return fmt.Errorf("serviceaccounts controller: %w", err)
		}
		factory.Start(hook.Done())
		go controller.Run(hook, 1)
		return nil
	})
}
