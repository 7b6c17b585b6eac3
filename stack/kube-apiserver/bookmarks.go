package main

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"
)

// With the watch cache off, watches are served by etcd directly, so a watch from a compacted
// resourceVersion gets 410 Gone exactly when etcd has compacted it. The price is that the
// apiserver's etcd watcher only emits BOOKMARK events when the storage-level ProgressNotify
// option is set, which only the watch cache does. This getter wraps the custom resources'
// storage so that a client asking for allowWatchBookmarks=true gets etcd progress
// notifications, which the apiserver turns into BOOKMARK events carrying etcd's current
// revision (a correct bookmark: every event up to it has been delivered on this watch).
type bookmarkingRESTOptionsGetter struct {
	inner generic.RESTOptionsGetter
}

func (g bookmarkingRESTOptionsGetter) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.inner.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	inner := opts.Decorator
	opts.Decorator = func(config *storagebackend.ConfigForResource, resourcePrefix string, keyFunc func(obj runtime.Object) (string, error),
		newFunc func() runtime.Object, newListFunc func() runtime.Object, getAttrsFunc storage.AttrFunc,
		trigger storage.IndexerFuncs, indexers *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
		s, destroy, err := inner(config, resourcePrefix, keyFunc, newFunc, newListFunc, getAttrsFunc, trigger, indexers)
		if err != nil {
			return s, destroy, err
		}
		return bookmarkingStorage{Interface: s}, destroy, nil
	}
	return opts, nil
}

type bookmarkingStorage struct {
	storage.Interface
}

func (s bookmarkingStorage) Watch(ctx context.Context, key string, opts storage.ListOptions) (watch.Interface, error) {
	if opts.Predicate.AllowWatchBookmarks {
		opts.ProgressNotify = true
	}
	return s.Interface.Watch(ctx, key, opts)
}
