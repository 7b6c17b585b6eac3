package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

// readCRDs reads every CustomResourceDefinition document of the given YAML/JSON files.
func readCRDs(paths []string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading CRD file: %w", err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for i := 0; ; i++ {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := dec.Decode(crd); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
			}
			if crd.Kind == "" && crd.Name == "" {
				continue // empty document
			}
			if crd.APIVersion != "apiextensions.k8s.io/v1" || crd.Kind != "CustomResourceDefinition" {
				return nil, fmt.Errorf("%s: document %d is %s %s, not an apiextensions.k8s.io/v1 CustomResourceDefinition", path, i+1, crd.APIVersion, crd.Kind)
			}
			out = append(out, crd)
		}
	}
	return out, nil
}

// applyCRDs creates or updates each CRD, then waits until all are Established and their
// group/versions are served.
func applyCRDs(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition, timeout time.Duration) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	api := client.ApiextensionsV1().CustomResourceDefinitions()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	for _, want := range crds {
		var lastErr error
		err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			lastErr = applyOne(ctx, api, want)
			return lastErr == nil, nil
		})
		if err != nil {
			return fmt.Errorf("applying CRD %s: %v (last error: %v)", want.Name, err, lastErr)
		}
	}
	for _, want := range crds {
		var last string
		err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			got, err := api.Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				last = err.Error()
				return false, nil
			}
			established, accepted := false, false
			for _, c := range got.Status.Conditions {
				switch {
				case c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue:
					established = true
				case c.Type == apiextensionsv1.NamesAccepted && c.Status == apiextensionsv1.ConditionTrue:
					accepted = true
				case c.Type == apiextensionsv1.NamesAccepted && c.Status == apiextensionsv1.ConditionFalse:
					return false, fmt.Errorf("names not accepted: %s", c.Message)
				}
			}
			last = fmt.Sprintf("established=%v namesAccepted=%v", established, accepted)
			if !established || !accepted {
				return false, nil
			}
			// Discovery and the REST handler follow the condition asynchronously.
			for _, v := range want.Spec.Versions {
				if !v.Served {
					continue
				}
				res := client.Discovery().RESTClient().Get().AbsPath("/apis", want.Spec.Group, v.Name).Do(ctx)
				if err := res.Error(); err != nil {
					last = fmt.Sprintf("/apis/%s/%s: %v", want.Spec.Group, v.Name, err)
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be established: %v (%s)", want.Name, err, last)
		}
	}
	return nil
}

type crdAPI interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*apiextensionsv1.CustomResourceDefinition, error)
	Create(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition, opts metav1.CreateOptions) (*apiextensionsv1.CustomResourceDefinition, error)
	Update(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition, opts metav1.UpdateOptions) (*apiextensionsv1.CustomResourceDefinition, error)
}

func applyOne(ctx context.Context, api crdAPI, want *apiextensionsv1.CustomResourceDefinition) error {
	_, err := api.Create(ctx, want.DeepCopy(), metav1.CreateOptions{FieldManager: "kubetrail"})
	if err == nil || !apierrors.IsAlreadyExists(err) {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := api.Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		next := got.DeepCopy()
		next.Labels = want.Labels
		next.Annotations = want.Annotations
		next.Spec = *want.Spec.DeepCopy()
		_, err = api.Update(ctx, next, metav1.UpdateOptions{FieldManager: "kubetrail"})
		return err
	})
}
