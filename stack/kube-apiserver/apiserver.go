package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// The first address of --service-cluster-ip-range: the ClusterIP of the `kubernetes` Service.
const (
	serviceClusterIPRange = "10.96.0.0/16"
	kubernetesServiceIP   = "10.96.0.1"
	serviceAccountIssuer  = "https://kubernetes.default.svc.cluster.local"
)

// apiserverArgs are the kube-apiserver flags of the local stack; extra ones (--apiserver-arg) come
// after them and so override them.
func apiserverArgs(f *flags, pki pkiFiles) []string {
	return []string{
		"--etcd-servers=" + fmt.Sprintf("http://127.0.0.1:%d", f.etcdClientPort),
		// Tests compact etcd themselves; the apiserver must not do it behind their back.
		"--etcd-compaction-interval=0",
		"--watch-cache=" + strconv.FormatBool(f.watchCache),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(f.port),
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caCert,
		"--authorization-mode=Node,RBAC",
		// The default admission plugins, plus NodeRestriction, which goes with the Node authorizer.
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + pki.saPub,
		"--service-account-signing-key-file=" + pki.saKey,
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		// No kubelet, no other API server: nothing to publish as the `kubernetes` Service's
		// endpoints (127.0.0.1 would be refused there anyway).
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		// On SIGTERM, end open watches (clients see the stream end and re-watch, as on any
		// apiserver restart) instead of holding the shutdown until they time out.
		"--shutdown-watch-termination-grace-period=2s",
		"--v=" + strconv.Itoa(f.verbosity),
	}
}

// newAPIServer builds the kube-apiserver of k8s.io/kubernetes (aggregator, core and built-in
// APIs, apiextensions) as its own command does, from the given flags. With the watch cache off,
// every storage is wrapped so that watches asking for bookmarks get them (bookmarks.go).
func newAPIServer(ctx context.Context, f *flags, pki pkiFiles) (func(context.Context) error, error) {
	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, set := range s.Flags().FlagSets {
		fs.AddFlagSet(set)
	}
	args := append(apiserverArgs(f, pki), f.apiserverArgs...)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("kube-apiserver flags: %w", err)
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, fmt.Errorf("kube-apiserver feature gates: %w", err)
	}
	// The loopback clients of the server itself should not log the warnings it sends them.
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	featureGate := s.GenericServerRunOptions.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	if err := logsapi.ValidateAndApply(s.Logs, featureGate); err != nil {
		return nil, fmt.Errorf("kube-apiserver logging: %w", err)
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return nil, fmt.Errorf("kube-apiserver options: %w", utilerrors.NewAggregate(errs))
	}
	if completed.InformerName == nil {
		name, err := cache.NewInformerName("kube-apiserver")
		if err != nil {
			return nil, err
		}
		completed.InformerName = name
	}
	config, err := app.NewConfig(completed)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver config: %w", err)
	}
	if !f.watchCache {
		generic := config.KubeAPIs.ControlPlane.Generic
		generic.RESTOptionsGetter = bookmarkingRESTOptionsGetter{inner: generic.RESTOptionsGetter}
		extra := &config.ApiExtensions.ExtraConfig
		extra.CRDRESTOptionsGetter = bookmarkingRESTOptionsGetter{inner: extra.CRDRESTOptionsGetter}
	}
	done, err := config.Complete()
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver config: %w", err)
	}
	chain, err := app.CreateServerChain(done)
	if err != nil {
		return nil, fmt.Errorf("creating kube-apiserver: %w", err)
	}
	if err := addServiceAccountsController(chain.GenericAPIServer); err != nil {
		return nil, err
	}
	prepared, err := chain.PrepareRun()
	if err != nil {
		return nil, fmt.Errorf("preparing kube-apiserver: %w", err)
	}
	return prepared.Run, nil
}
