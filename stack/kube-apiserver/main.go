// Command kube-apiserver is kubetrail's local Kubernetes API server: an embedded etcd plus the
// real kube-apiserver of k8s.io/kubernetes (core and built-in APIs, CustomResourceDefinitions,
// RBAC and Node authorization, ServiceAccount tokens, the default admission plugins), secured
// with certificates and keys it generates on first start. It applies the CRDs given with --crd
// and waits until they are served before it says it is ready.
//
// The admin client certificate of the kubeconfig it writes is in group system:masters; any other
// identity (a ServiceAccount token, say) gets what RBAC grants it.
package main

import (
	"context"
	"errors"
	goflag "flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type flags struct {
	dataDir          string
	port             int
	etcdClientPort   int
	etcdPeerPort     int
	crds             stringList
	kubeconfigOut    string
	bookmarkInterval time.Duration
	watchCache       bool
	crdTimeout       time.Duration
	verbosity        int
	etcdLogLevel     string
	apiserverArgs    stringList
}

func parseFlags() (*flags, error) {
	f := &flags{}
	fs := goflag.NewFlagSet("kube-apiserver", goflag.ContinueOnError)
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for etcd data and generated certificates and keys (required; kept across restarts)")
	fs.IntVar(&f.port, "port", 0, "HTTPS port of the Kubernetes API on 127.0.0.1 (required)")
	fs.IntVar(&f.etcdClientPort, "etcd-client-port", 0, "embedded etcd client port on 127.0.0.1, plain HTTP, also etcd's JSON gateway (required)")
	fs.IntVar(&f.etcdPeerPort, "etcd-peer-port", 0, "embedded etcd peer port on 127.0.0.1 (required)")
	fs.Var(&f.crds, "crd", "YAML/JSON file of CustomResourceDefinition(s) to apply on start (repeatable)")
	fs.StringVar(&f.kubeconfigOut, "kubeconfig-out", "", "where to write the admin kubeconfig (default <data-dir>/kubeconfig)")
	fs.DurationVar(&f.bookmarkInterval, "bookmark-interval", 5*time.Second, "etcd watch progress-notify interval: how often a quiet watch with allowWatchBookmarks=true gets a BOOKMARK")
	fs.BoolVar(&f.watchCache, "watch-cache", false, "enable the apiserver watch cache (then watches from compacted resourceVersions are served from the cache instead of getting 410 Gone)")
	fs.DurationVar(&f.crdTimeout, "crd-timeout", 60*time.Second, "how long to wait for the CRDs to be applied and established")
	fs.IntVar(&f.verbosity, "v", 0, "apiserver log verbosity (klog)")
	fs.StringVar(&f.etcdLogLevel, "etcd-log-level", "warn", "embedded etcd log level: debug, info, warn, error")
	fs.Var(&f.apiserverArgs, "apiserver-arg", "extra flag passed to kube-apiserver after the stack's own ones (so it overrides them), e.g. --apiserver-arg=--max-requests-inflight=100 (repeatable)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var missing []string
	if f.dataDir == "" {
		missing = append(missing, "--data-dir")
	}
	for name, v := range map[string]int{"--port": f.port, "--etcd-client-port": f.etcdClientPort, "--etcd-peer-port": f.etcdPeerPort} {
		if v <= 0 || v > 65535 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing or invalid flag(s): %s", strings.Join(missing, ", "))
	}
	abs, err := filepath.Abs(f.dataDir)
	if err != nil {
		return nil, err
	}
	f.dataDir = abs
	if f.kubeconfigOut == "" {
		f.kubeconfigOut = filepath.Join(f.dataDir, "kubeconfig")
	}
	return f, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kube-apiserver: error: "+format+"\n", args...)
	klog.Flush()
	os.Exit(1)
}

func main() {
	f, err := parseFlags()
	if err != nil {
		if errors.Is(err, goflag.ErrHelp) {
			os.Exit(0)
		}
		fail("%v", err)
	}
	// Read the CRDs before anything starts, so a bad file fails fast.
	crds, err := readCRDs(f.crds)
	if err != nil {
		fail("%v", err)
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		fail("creating data dir: %v", err)
	}
	pki := newPKIFiles(f.dataDir)
	generated, err := pki.ensure()
	if err != nil {
		fail("generating certificates in %s: %v", pki.dir, err)
	}
	if generated {
		fmt.Fprintf(os.Stderr, "kube-apiserver: generated CA, serving and admin certificates and the ServiceAccount signing key in %s\n", pki.dir)
	}
	serverURL := fmt.Sprintf("https://127.0.0.1:%d", f.port)
	if err := pki.writeAdminKubeconfig(f.kubeconfigOut, serverURL); err != nil {
		fail("writing kubeconfig %s: %v", f.kubeconfigOut, err)
	}
	ctx := genericapiserver.SetupSignalContext()

	etcd, err := startEtcd(f.dataDir, f.etcdClientPort, f.etcdPeerPort, f.bookmarkInterval, f.etcdLogLevel)
	if err != nil {
		fail("%v", err)
	}
	fmt.Fprintf(os.Stderr, "kube-apiserver: etcd ready on http://127.0.0.1:%d (data %s)\n", f.etcdClientPort, filepath.Join(f.dataDir, "etcd"))

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	run, err := newAPIServer(runCtx, f, pki)
	if err != nil {
		etcd.Close()
		fail("%v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- run(runCtx) }()

	// Apply the CRDs as the admin user, through the kubeconfig we hand out: this also proves
	// that the client certificate is accepted.
	ready := make(chan error, 1)
	go func() {
		restCfg, err := clientcmd.BuildConfigFromFlags("", f.kubeconfigOut)
		if err != nil {
			ready <- err
			return
		}
		ready <- applyCRDs(runCtx, restCfg, crds, f.crdTimeout)
	}()

	for {
		select {
		case err := <-ready:
			if err != nil {
				stop()
				<-runErr
				etcd.Close()
				fail("%v", err)
			}
			names := make([]string, 0, len(crds))
			for _, c := range crds {
				names = append(names, c.Name)
			}
			fmt.Fprintf(os.Stderr, "kube-apiserver: ready on %s (CRDs: %s; kubeconfig: %s; etcd: http://127.0.0.1:%d)\n",
				serverURL, strings.Join(names, ", "), f.kubeconfigOut, f.etcdClientPort)
			ready = nil
		case err := <-runErr:
			if ctx.Err() != nil {
				// SIGTERM/SIGINT: graceful shutdown finished.
				etcd.Close()
				fmt.Fprintln(os.Stderr, "kube-apiserver: stopped")
				return
			}
			if err == nil {
				err = errors.New("apiserver stopped unexpectedly")
			}
			etcd.Close()
			fail("apiserver: %v", err)
		case err := <-etcd.Err():
			stop()
			<-runErr
			etcd.Close()
			fail("embedded etcd: %v", err)
		}
	}
}
