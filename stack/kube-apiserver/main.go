// Command kube-apiserver is kubetrail's local Kubernetes API server: an embedded etcd plus the
// apiextensions API server (the CustomResourceDefinition API and the custom resources it serves),
// secured with certificates it generates on first start. It applies the CRDs given with --crd
// and waits until they are served before it says it is ready.
//
// There is no core API (no namespaces, pods, RBAC): namespaced custom resources work in any
// namespace name, and the admin client certificate (group system:masters) is always authorized.
package main

import (
	"context"
	"errors"
	goflag "flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authzpath "k8s.io/apiserver/pkg/authorization/path"
	"k8s.io/apiserver/pkg/authorization/union"
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
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for etcd data, generated certificates and the placeholder kubeconfig (required; kept across restarts)")
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
	fs.Var(&f.apiserverArgs, "apiserver-arg", "extra flag passed to the apiextensions API server, e.g. --apiserver-arg=--max-requests-inflight=100 (repeatable)")
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
	klogFlags := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("v", strconv.Itoa(f.verbosity))

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
		fmt.Fprintf(os.Stderr, "kube-apiserver: generated CA, serving and admin certificates in %s\n", pki.dir)
	}
	serverURL := fmt.Sprintf("https://127.0.0.1:%d", f.port)
	if err := pki.writeAdminKubeconfig(f.kubeconfigOut, serverURL); err != nil {
		fail("writing kubeconfig %s: %v", f.kubeconfigOut, err)
	}
	placeholder := filepath.Join(f.dataDir, "no-core-api.kubeconfig")
	if err := writePlaceholderKubeconfig(placeholder); err != nil {
		fail("writing %s: %v", placeholder, err)
	}

	ctx := genericapiserver.SetupSignalContext()

	etcd, err := startEtcd(f.dataDir, f.etcdClientPort, f.etcdPeerPort, f.bookmarkInterval, f.etcdLogLevel)
	if err != nil {
		fail("%v", err)
	}
	fmt.Fprintf(os.Stderr, "kube-apiserver: etcd ready on http://127.0.0.1:%d (data %s)\n", f.etcdClientPort, filepath.Join(f.dataDir, "etcd"))

	o := options.NewCustomResourceDefinitionsServerOptions(os.Stdout, os.Stderr)
	fs := pflag.NewFlagSet("apiextensions-apiserver", pflag.ContinueOnError)
	o.AddFlags(fs)
	args := []string{
		"--etcd-servers=" + fmt.Sprintf("http://127.0.0.1:%d", f.etcdClientPort),
		// Tests compact etcd themselves; the apiserver must not do it behind their back.
		"--etcd-compaction-interval=0",
		"--watch-cache=" + strconv.FormatBool(f.watchCache),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(f.port),
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caCert,
		"--authentication-skip-lookup",
		"--authentication-kubeconfig=" + placeholder,
		"--authorization-kubeconfig=" + placeholder,
		"--kubeconfig=" + placeholder,
		"--disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,MutatingAdmissionPolicy,ValidatingAdmissionPolicy",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		// On SIGTERM, end open watches (clients see the stream end and re-watch, as on any
		// apiserver restart) instead of holding the shutdown until they time out.
		"--shutdown-watch-termination-grace-period=2s",
	}
	args = append(args, f.apiserverArgs...)
	if err := fs.Parse(args); err != nil {
		fail("apiserver flags: %v", err)
	}
	if err := o.ServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		fail("apiserver feature gates: %v", err)
	}
	if err := o.Complete(); err != nil {
		fail("apiserver options: %v", err)
	}
	if err := o.Validate(); err != nil {
		fail("apiserver options: %v", err)
	}
	config, err := o.Config()
	if err != nil {
		fail("apiserver config: %v", err)
	}
	// Authorization without the webhook of the placeholder kubeconfig: group system:masters
	// (the admin client certificate, the loopback client) may do anything, anyone may read the
	// health endpoints, everyone else gets 403 (instead of a 500 from the unreachable webhook).
	healthPaths, err := authzpath.NewAuthorizer([]string{"/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/version"})
	if err != nil {
		fail("apiserver authorizer: %v", err)
	}
	authz, err := union.New(
		union.NamedAuthorizer{AuthorizerName: "system-masters", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		union.NamedAuthorizer{AuthorizerName: "health-paths", Authorizer: healthPaths},
		union.NamedAuthorizer{AuthorizerName: "deny", Authorizer: authorizerfactory.NewAlwaysDenyAuthorizer()},
	)
	if err != nil {
		fail("apiserver authorizer: %v", err)
	}
	config.GenericConfig.Authorization.Authorizer = authz
	if !f.watchCache {
		config.ExtraConfig.CRDRESTOptionsGetter = bookmarkingRESTOptionsGetter{inner: config.ExtraConfig.CRDRESTOptionsGetter}
	}
	server, err := config.Complete().New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		fail("creating apiserver: %v", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- server.GenericAPIServer.PrepareRun().RunWithContext(runCtx) }()

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
