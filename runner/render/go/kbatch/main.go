// Command kustomize-batch builds many kustomization directories in one process, with the
// options kustomize-controller uses (load restrictions off, plugins off), so a repository of
// hundreds of Kustomizations pays kustomize's start-up cost once instead of once per build.
//
// Protocol: one JSON request per line on stdin, {"id": "...", "dir": "/abs/path"}; one JSON
// response per line on stdout, {"id": "...", "yaml": "...", "error": "..."}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

type request struct {
	ID  string `json:"id"`
	Dir string `json:"dir"`
}

type response struct {
	ID    string `json:"id"`
	YAML  string `json:"yaml,omitempty"`
	Error string `json:"error,omitempty"`
}

// builtinSchemaVersion is what kustomize reports before any kustomization changed the schema.
var builtinSchemaVersion = openapi.GetSchemaVersion()

func main() {
	decoder := json.NewDecoder(bufio.NewReader(os.Stdin))
	writer := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(writer)
	fs := filesys.MakeFsOnDisk()
	for {
		var req request
		if err := decoder.Decode(&req); err == io.EOF {
			return
		} else if err != nil {
			fmt.Fprintf(os.Stderr, "kustomize-batch: bad request: %v\n", err)
			os.Exit(2)
		}
		out, err := build(fs, req.Dir)
		resp := response{ID: req.ID, YAML: out}
		if err != nil {
			resp.Error = err.Error()
		}
		if err := encoder.Encode(resp); err != nil {
			os.Exit(2)
		}
		if err := writer.Flush(); err != nil {
			os.Exit(2)
		}
	}
}

// build runs one kustomize build the way fluxcd/pkg/kustomize Build does.
func build(fs filesys.FileSystem, dir string) (yaml string, err error) {
	// kustomize panics on some invalid inputs; report it as that build's error.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered from kustomize build panic: %v", r)
		}
	}()
	// Every build starts from the built-in schema, loaded (Flux preloads it before each
	// build). A kustomization's `openapi:` field changes kustomize's global schema, so after
	// such a build the schema is reset; other builds share the parsed one, which is what
	// makes a batch fast.
	_ = openapi.Schema()
	defer func() {
		if openapi.GetSchemaVersion() != builtinSchemaVersion {
			openapi.ResetOpenAPI()
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: types.LoadRestrictionsNone,
		PluginConfig:     types.DisabledPluginConfig(),
	})
	resources, err := k.Run(fs, dir)
	if err != nil {
		return "", err
	}
	out, err := resources.AsYaml()
	return string(out), err
}
