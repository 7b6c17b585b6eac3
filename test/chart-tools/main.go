// chart-check: reads the multi-document YAML `helm template` prints (stdin) and decodes every
// object strictly into its Go type: the Kubernetes API types of client-go's scheme and the
// Prometheus Operator's monitoring.coreos.com/v1 types. A field the type does not have, a field
// given twice, a value of the wrong type or a kind neither scheme knows fails the object.
// Prints one JSON line per object and a last line with the totals; exits 1 if any object failed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/runtime"
	serializerjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

type result struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Error      string `json:"error,omitempty"`
}

type totals struct {
	Objects int `json:"objects"`
	Failed  int `json:"failed"`
}

func newDecoder() (runtime.Decoder, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := monitoringv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return serializerjson.NewSerializerWithOptions(serializerjson.DefaultMetaFactory, scheme, scheme, serializerjson.SerializerOptions{Yaml: true, Strict: true}), nil
}

// check decodes one document; a strict-decoding error is as fatal as any other.
func check(decoder runtime.Decoder, doc []byte) result {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return result{Error: err.Error()}
	}
	r := result{APIVersion: head.APIVersion, Kind: head.Kind, Name: head.Metadata.Name}
	if _, _, err := decoder.Decode(doc, nil, nil); err != nil {
		r.Error = err.Error()
	} else if r.Name == "" {
		r.Error = "no metadata.name"
	}
	return r
}

// isEmpty: a document of only comments and whitespace (helm prints one for a template that renders nothing).
func isEmpty(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		if trimmed := strings.TrimSpace(line); trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			return false
		}
	}
	return true
}

func run(in io.Reader, out io.Writer) (int, error) {
	decoder, err := newDecoder()
	if err != nil {
		return 0, err
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	encoder := json.NewEncoder(out)
	var sum totals
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		if isEmpty(doc) {
			continue
		}
		r := check(decoder, doc)
		sum.Objects++
		if r.Error != "" {
			sum.Failed++
		}
		if err := encoder.Encode(r); err != nil {
			return 0, err
		}
	}
	if err := encoder.Encode(map[string]totals{"totals": sum}); err != nil {
		return 0, err
	}
	return sum.Failed, nil
}

func main() {
	failed, err := run(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chart-check:", err)
		os.Exit(2)
	}
	if failed > 0 {
		os.Exit(1)
	}
}
