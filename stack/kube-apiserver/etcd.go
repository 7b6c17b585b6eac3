package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// embeddedEtcd is the running etcd and the level of its logger, which is raised before a
// deliberate shutdown (closing the listeners makes etcd log errors that mean nothing then).
type embeddedEtcd struct {
	*embed.Etcd
	level     zap.AtomicLevel
	closeOnce sync.Once
}

func (e *embeddedEtcd) Close() {
	e.closeOnce.Do(func() {
		e.level.SetLevel(zapcore.FatalLevel)
		e.Etcd.Close()
	})
}

// startEtcd starts the embedded single-member etcd. Its data lives in <data-dir>/etcd, so a
// restart keeps every object. The client URL also serves etcd's JSON gRPC gateway
// (POST /v3/kv/range, /v3/kv/compaction, ...), which the fault tests use to compact.
func startEtcd(dataDir string, clientPort, peerPort int, progressNotify time.Duration, logLevel string) (*embeddedEtcd, error) {
	level, err := zap.ParseAtomicLevel(logLevel)
	if err != nil {
		return nil, fmt.Errorf("--etcd-log-level: %w", err)
	}
	zcfg := zap.NewProductionConfig()
	zcfg.Level = level
	zcfg.Sampling = nil
	zcfg.OutputPaths = []string{"stderr"}
	zcfg.ErrorOutputPaths = []string{"stderr"}
	zcfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	lg, err := zcfg.Build()
	if err != nil {
		return nil, err
	}

	cfg := embed.NewConfig()
	cfg.Name = "kubetrail"
	cfg.Dir = filepath.Join(dataDir, "etcd")
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.InitialClusterToken = "kubetrail"
	cfg.EnableGRPCGateway = true
	// No automatic compaction: tests decide when history disappears.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "0"
	// Progress notifications are what the API server turns into watch BOOKMARK events
	// (the watch cache is off, see main.go).
	cfg.WatchProgressNotifyInterval = progressNotify
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg.Named("etcd"))

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd (data %s, client %s, peer %s): %w", cfg.Dir, clientURL.String(), peerURL.String(), err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return &embeddedEtcd{Etcd: e, level: level}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed while starting: %w", err)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready within 60s")
	}
}
